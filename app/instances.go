package app

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/nyaruka/phonenumbers"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/jobs"
	"github.com/myaibud/aibud/views"
)

// pathID reads the :id parameter; anything but a positive number is a 404.
func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.ErrNotFound
	}
	return id, nil
}

func (h *handler) instancesView(c echo.Context, form views.InstanceForm) (views.Instances, error) {
	p := mustPrincipal(c)
	insts, err := tenantStore(c).Instances(c.Request().Context())
	if err != nil {
		return views.Instances{}, err
	}
	limit, err := tenantStore(c).InstanceLimit(c.Request().Context())
	if err != nil {
		return views.Instances{}, err
	}
	vm := views.Instances{Used: len(insts), Limit: limit, Plan: p.tenant.Plan, Form: form}
	for i := range insts {
		vm.Cards = append(vm.Cards, instanceCard(&insts[i], p.tenant.Location(), limit))
	}
	return vm, nil
}

// instanceCard is a number as listed; limit is the plan's number of
// numbers, which a paused number's notice names.
func instanceCard(i *db.Instance, loc *time.Location, limit int) views.InstanceCard {
	return views.InstanceCard{
		ID: i.ID, Name: i.Name, Status: i.Status, Phone: deref(i.Phone), PushName: deref(i.PushName),
		LastError: i.LastError, StatusSince: i.StatusChangedAt, Location: loc, Paused: i.PausedAt != nil, PlanLimit: limit,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (h *handler) listInstances(c echo.Context) error {
	vm, err := h.instancesView(c, views.InstanceForm{})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.InstancesPage(h.shell(c, "WhatsApp numbers", views.NavNumbers), vm), views.InstanceList(vm))
}

// instanceForm is the posted "add a number" form.
type instanceForm struct {
	Name string `form:"name"`
}

func (f *instanceForm) Validate() string {
	f.Name = strings.TrimSpace(f.Name)
	switch n := utf8.RuneCountInString(f.Name); {
	case n == 0:
		return "Give this number a name, such as Shop or Support."
	case n > 60:
		return "Keep the name under 60 characters."
	}
	return ""
}

func (h *handler) createInstance(c echo.Context) error {
	var f instanceForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	showForm := func(msg string) error {
		vm, err := h.instancesView(c, views.InstanceForm{Name: f.Name, Error: msg})
		if err != nil {
			return err
		}
		return render(c, http.StatusUnprocessableEntity,
			views.InstancesPage(h.shell(c, "WhatsApp numbers", views.NavNumbers), vm), views.InstanceFormView(vm))
	}
	if msg := f.Validate(); msg != "" {
		return showForm(msg)
	}
	p := mustPrincipal(c)
	limit, err := tenantStore(c).InstanceLimit(c.Request().Context())
	if err != nil {
		return err
	}
	inst, err := tenantStore(c).CreateInstance(c.Request().Context(), db.NewInstance{
		Name: f.Name, Providers: h.providers(), Limit: limit, SessionName: whatsapp.SessionName,
	})
	switch {
	case errors.Is(err, db.ErrPlanLimit):
		return showForm(views.PlanLimitText(p.tenant.Plan, limit))
	case errors.Is(err, db.ErrNoCapacity):
		h.metrics.Count("no_gateway_capacity")
		h.log.ErrorContext(c.Request().Context(), "no WhatsApp server has room", "tenant_id", p.tenant.ID)
		return Errorf(EUnavailable, "All WhatsApp servers are full right now. We have been told and are adding room; please try again later.")
	case err != nil:
		return err
	}
	if err := h.provision(c, inst); err != nil {
		return err
	}
	h.publish(c, live.InstanceUpdated, map[string]int64{"id": inst.ID})
	return redirect(c, views.InstancePath(inst.ID))
}

// provision hands the session's creation (or re-creation) to the workers.
func (h *handler) provision(c echo.Context, inst *db.Instance) error {
	t, err := jobs.NewProvisionInstanceTask(jobs.InstancePayload{TenantID: inst.TenantID, InstanceID: inst.ID})
	if err != nil {
		return err
	}
	if _, err := h.queue.EnqueueContext(c.Request().Context(), t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		// The number is stored in creation: the workers' sweeper sets it up
		// within seconds of Redis coming back.
		h.log.WarnContext(c.Request().Context(), "enqueue provisioning; the sweeper will do it", "instance_id", inst.ID, "err", err)
	}
	return nil
}

func (h *handler) loadInstance(c echo.Context) (*db.Instance, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	return tenantStore(c).Instance(c.Request().Context(), id)
}

func (h *handler) panelView(c echo.Context, inst *db.Instance) views.InstancePanel {
	tab := c.QueryParam("tab")
	if tab != "code" {
		tab = "qr"
	}
	limit := 0
	if inst.PausedAt != nil {
		// Only a paused number's notice names the limit.
		limit, _ = tenantStore(c).InstanceLimit(c.Request().Context())
	}
	return views.InstancePanel{
		Card: instanceCard(inst, mustPrincipal(c).tenant.Location(), limit), QRHash: deref(inst.QRHash), QRCount: inst.QRCount,
		Tab: tab, PairingCode: deref(inst.PairingCode),
	}
}

func (h *handler) showInstance(c echo.Context) error {
	inst, err := h.loadInstance(c)
	if err != nil {
		return err
	}
	vm := h.panelView(c, inst)
	return render(c, http.StatusOK, views.InstancePage(h.shell(c, inst.Name, views.NavNumbers), vm), views.InstancePanelView(vm))
}

func (h *handler) instancePanel(c echo.Context) error {
	inst, err := h.loadInstance(c)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.InstancePanelView(h.panelView(c, inst)))
}

func (h *handler) instanceQR(c echo.Context) error {
	inst, err := h.loadInstance(c)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.QRImage(inst.ID, deref(inst.QRHash)))
}

func (h *handler) instanceQRPNG(c echo.Context) error {
	inst, err := h.loadInstance(c)
	if err != nil {
		return err
	}
	if len(inst.QRPNG) == 0 || inst.Status != db.InstanceScanQR {
		return echo.ErrNotFound
	}
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, "image/png", inst.QRPNG)
}

// pairingForm asks for a pairing code.
type pairingForm struct {
	Phone string `form:"phone"`
}

func (h *handler) requestPairingCode(c echo.Context) error {
	inst, err := h.loadInstance(c)
	if err != nil {
		return err
	}
	var f pairingForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	vm := h.panelView(c, inst)
	vm.Tab, vm.PairingPhone = "code", f.Phone
	digits, ok := phoneDigits(f.Phone, mustPrincipal(c).tenant.DefaultCountry)
	if !ok {
		vm.PairingError = "Enter the full number with its country code, like +44 7700 900123."
		return renderComponent(c, http.StatusUnprocessableEntity, views.InstancePanelView(vm))
	}
	if inst.Status != db.InstanceScanQR {
		vm.PairingError = "This number is not waiting to be linked."
		return renderComponent(c, http.StatusUnprocessableEntity, views.InstancePanelView(vm))
	}
	prov, err := whatsapp.ProviderFor(c.Request().Context(), h.store, h.gateways, inst)
	if err != nil {
		return err
	}
	code, err := prov.RequestCode(c.Request().Context(), inst.SessionName, digits)
	if err != nil {
		return gatewayError(err)
	}
	if err := tenantStore(c).SetPairingCode(c.Request().Context(), inst.ID, code); err != nil {
		return err
	}
	vm.PairingCode = code
	return renderComponent(c, http.StatusOK, views.InstancePanelView(vm))
}

// phoneDigits validates a phone number and returns it as digits with the
// country code, the form gateways take.
func phoneDigits(raw, defaultCountry string) (string, bool) {
	num, err := phonenumbers.Parse(strings.TrimSpace(raw), defaultCountry)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", false
	}
	return strings.TrimPrefix(phonenumbers.Format(num, phonenumbers.E164), "+"), true
}

func (h *handler) reconnectInstance(c echo.Context) error {
	inst, err := h.loadInstance(c)
	if err != nil {
		return err
	}
	if inst.Status == db.InstanceConnected || inst.Status == db.InstanceCreating {
		return h.instancePanel(c)
	}
	ts := tenantStore(c)
	if _, err := ts.SetInstanceState(c.Request().Context(), inst.ID, db.SessionState{Status: db.InstanceCreating}); err != nil {
		return err
	}
	inst.Status = db.InstanceCreating
	if err := h.provision(c, inst); err != nil {
		return err
	}
	h.publish(c, live.InstanceUpdated, map[string]int64{"id": inst.ID})
	return renderComponent(c, http.StatusOK, views.InstancePanelView(h.panelView(c, inst)))
}

func (h *handler) logoutInstance(c echo.Context) error {
	inst, err := h.loadInstance(c)
	if err != nil {
		return err
	}
	prov, err := whatsapp.ProviderFor(c.Request().Context(), h.store, h.gateways, inst)
	if err != nil {
		return err
	}
	if err := prov.Logout(c.Request().Context(), inst.SessionName); err != nil &&
		!errors.Is(err, whatsapp.ErrSessionNotFound) && !errors.Is(err, whatsapp.ErrWrongStatus) {
		return gatewayError(err)
	}
	state := db.SessionState{Status: db.InstanceLoggedOut, ProviderStatus: whatsapp.StatusLoggedOut, Error: "You unlinked the phone."}
	if _, err := tenantStore(c).SetInstanceState(c.Request().Context(), inst.ID, state); err != nil {
		return err
	}
	h.publish(c, live.InstanceUpdated, map[string]int64{"id": inst.ID})
	inst, err = tenantStore(c).Instance(c.Request().Context(), inst.ID)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.InstancePanelView(h.panelView(c, inst)))
}

func (h *handler) deleteInstance(c echo.Context) error {
	inst, err := h.loadInstance(c)
	if err != nil {
		return err
	}
	prov, err := whatsapp.ProviderFor(c.Request().Context(), h.store, h.gateways, inst)
	if err != nil && !errors.Is(err, whatsapp.ErrNoNode) {
		return err
	}
	if prov != nil {
		// Remove it remotely first: a session left behind would keep
		// receiving messages nobody sees.
		if err := prov.DeleteSession(c.Request().Context(), inst.SessionName); err != nil && !errors.Is(err, whatsapp.ErrSessionNotFound) {
			return gatewayError(err)
		}
	}
	if err := tenantStore(c).DeleteInstance(c.Request().Context(), inst.ID); err != nil {
		return err
	}
	h.publish(c, live.InstanceUpdated, map[string]int64{"id": inst.ID})
	h.putFlash(c, "success", fmt.Sprintf("%s was deleted. Its conversations stay in your inbox.", inst.Name))
	return redirect(c, views.PathInstances)
}

func (h *handler) renameInstance(c echo.Context) error {
	inst, err := h.loadInstance(c)
	if err != nil {
		return err
	}
	var f instanceForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	if msg := f.Validate(); msg != "" {
		return Errorf(EInvalid, "%s", msg)
	}
	if err := tenantStore(c).RenameInstance(c.Request().Context(), inst.ID, f.Name); err != nil {
		return err
	}
	h.publish(c, live.InstanceUpdated, map[string]int64{"id": inst.ID})
	return redirect(c, views.InstancePath(inst.ID))
}

// gatewayError turns a gateway failure into a message for the tenant.
func gatewayError(err error) error {
	switch {
	case errors.Is(err, whatsapp.ErrUnavailable):
		return &wrappedError{Errorf(EUnavailable, "The WhatsApp server did not answer. Please try again in a minute."), err}
	case errors.Is(err, whatsapp.ErrWrongStatus):
		return &wrappedError{Errorf(EConflict, "The number is busy changing state. Wait a few seconds and try again."), err}
	case errors.Is(err, whatsapp.ErrBadRequest):
		return &wrappedError{Errorf(EInvalid, "The WhatsApp server refused that request."), err}
	}
	return err
}

// wrappedError shows the user an app error while keeping the cause for the
// log.
type wrappedError struct {
	shown *Error
	cause error
}

func (e *wrappedError) Error() string { return e.shown.Error() + ": " + e.cause.Error() }

// As lets describe find the user-facing error.
func (e *wrappedError) As(target any) bool {
	if t, ok := target.(**Error); ok {
		*t = e.shown
		return true
	}
	return false
}

func (e *wrappedError) Unwrap() error { return e.cause }

// publish tells the signed-in tenant's browsers about a change.
func (h *handler) publish(c echo.Context, name string, data any) {
	p := mustPrincipal(c)
	if err := h.publisher.Publish(c.Request().Context(), p.tenant.ID, name, data); err != nil {
		h.log.WarnContext(c.Request().Context(), "publish live update", "event", name, "err", err)
	}
}

// providers are the kinds of gateway new numbers go on.
func (h *handler) providers() []string {
	if len(h.opts.WhatsAppProviders) == 0 {
		return []string{whatsapp.ProviderWAHA}
	}
	return h.opts.WhatsAppProviders
}
