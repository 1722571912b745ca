package app

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

func (h *handler) nodesView(c echo.Context, form views.NodeForm) (views.Nodes, error) {
	ns, err := h.store.NodesWithUse(c.Request().Context())
	if err != nil {
		return views.Nodes{}, err
	}
	vm := views.Nodes{Form: form}
	for _, n := range ns {
		vm.Rows = append(vm.Rows, views.NodeRow{ID: n.ID, Name: n.Name, Provider: n.Provider, URL: n.URL, Capacity: n.Capacity, Used: n.Used, Enabled: n.Enabled,
			IsDefault: n.IsDefault, MonthlyCost: n.MonthlyCost})
	}
	return vm, nil
}

func (h *handler) listNodes(c echo.Context) error {
	vm, err := h.nodesView(c, views.NodeForm{Capacity: "20"})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.NodesPage(h.shell(c, "WhatsApp servers", views.NavAdmin), vm), nil)
}

// nodeForm is the posted "add a server" form.
type nodeForm struct {
	Provider string `form:"provider"`
	Name     string `form:"name"`
	URL      string `form:"url"`
	APIKey   string `form:"api_key"`
	Capacity string `form:"capacity"`
	Enabled  string `form:"enabled"`
	// MonthlyCost is in US dollars; empty is 0.
	MonthlyCost string `form:"monthly_cost"`
}

// Validate checks the form; capacity and the monthly cost are returned
// parsed.
func (f *nodeForm) Validate(needKey bool) (map[string]string, int, float64) {
	errs := map[string]string{}
	f.Name, f.URL, f.APIKey = strings.TrimSpace(f.Name), strings.TrimRight(strings.TrimSpace(f.URL), "/"), strings.TrimSpace(f.APIKey)
	if f.Name == "" || len(f.Name) > 100 {
		errs["name"] = "Give the server a name of up to 100 characters."
	}
	if u, err := url.Parse(f.URL); f.URL != "" || needKey {
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs["url"] = "Enter the server's http(s) address."
		}
	}
	if f.Provider == "" {
		f.Provider = whatsapp.ProviderWAHA
	}
	if !slices.Contains(whatsapp.Providers, f.Provider) {
		errs["provider"] = "Choose WAHA or Evolution API."
	}
	if needKey && f.APIKey == "" {
		errs["api_key"] = "Enter the server's API key."
	}
	capacity, err := strconv.Atoi(strings.TrimSpace(f.Capacity))
	if err != nil || capacity < 0 || capacity > 10000 {
		errs["capacity"] = "Enter how many sessions it holds (0 to 10000)."
	}
	cost, err := parseMoney(f.MonthlyCost)
	if err != nil {
		errs["monthly_cost"] = "Enter what it costs a month in US dollars, e.g. 24.50 (0 to 1,000,000)."
	}
	return errs, capacity, cost
}

// parseMoney reads a dollar amount of up to two decimals from 0 to
// 1,000,000; empty is 0.
func parseMoney(s string) (float64, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "$")
	if s == "" {
		return 0, nil
	}
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > 2 {
		return 0, errors.New("more than two decimals")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1_000_000 {
		return 0, errors.New("not an amount from 0 to 1,000,000")
	}
	return v, nil
}

func (h *handler) createNode(c echo.Context) error {
	var f nodeForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	errs, capacity, cost := f.Validate(true)
	if len(errs) == 0 {
		key := f.APIKey
		err := h.store.CreateNode(c.Request().Context(), &db.Node{Name: f.Name, Provider: f.Provider, URL: f.URL, APIKey: &key, Capacity: capacity, Enabled: true,
			MonthlyCost: cost})
		if errors.Is(err, db.ErrConflict) {
			errs["url"] = "This server is already registered."
		} else if err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		vm, err := h.nodesView(c, views.NodeForm{Provider: f.Provider, Name: f.Name, URL: f.URL, Capacity: f.Capacity, MonthlyCost: f.MonthlyCost, Errors: errs})
		if err != nil {
			return err
		}
		return render(c, http.StatusUnprocessableEntity, views.NodesPage(h.shell(c, "WhatsApp servers", views.NavAdmin), vm), nil)
	}
	h.putFlash(c, "success", "Server added. New numbers can go to it now.")
	return redirect(c, views.PathAdminNodes)
}

func (h *handler) updateNode(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var f nodeForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	errs, capacity, cost := f.Validate(false)
	if len(errs) > 0 {
		for _, msg := range errs {
			return Errorf(EInvalid, "%s", msg)
		}
	}
	ch := db.NodeChange{Name: f.Name, Capacity: capacity, Enabled: f.Enabled == "on", MonthlyCost: cost, APIKey: f.APIKey}
	if err := h.store.UpdateNode(c.Request().Context(), id, ch); err != nil {
		return err
	}
	h.putFlash(c, "success", "Server updated.")
	return redirect(c, views.PathAdminNodes)
}

func (h *handler) deleteNode(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	err = h.store.DeleteNode(c.Request().Context(), id)
	switch {
	case errors.Is(err, db.ErrNodeInUse):
		return Errorf(EConflict, "This server still holds WhatsApp numbers; disable it instead so it takes no new ones.")
	case errors.Is(err, db.ErrConflict):
		return Errorf(EConflict, "A default server comes from the environment (WAHA_API_URL or EVOLUTION_API_URL) and cannot be removed here.")
	case err != nil:
		return err
	}
	h.putFlash(c, "success", "Server removed.")
	return redirect(c, views.PathAdminNodes)
}
