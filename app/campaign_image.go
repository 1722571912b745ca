package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// campaignMessageRoute is the message step's save route: it takes an image,
// so it has a larger body limit than the app's (see routes).
const campaignMessageRoute = views.PathCampaigns + "/:id/" + views.StepMessage

// campaignImageRoute serves a draft's image to its preview.
const campaignImageRoute = views.PathCampaigns + "/:id/image"

// messageBodyLimit leaves room around maxImageBytes for the multipart
// envelope and the texts, so an image just over 5 MB gets its own message.
const messageBodyLimit = "6MiB"

// maxImageBytes is the largest image a campaign sends.
const maxImageBytes = 5 << 20

// imageTypes are the image types WhatsApp shows as photos, by their content.
var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true}

// imageUpload is an image posted with the message form, checked.
type imageUpload struct {
	mime, name string
	data       []byte
}

// postedImage reads the form's image, if one was chosen. problem says why
// it cannot be sent (its type by content, not by name; its size); err is a
// failure to read the request.
func postedImage(c echo.Context) (img *imageUpload, problem string, err error) {
	fh, err := c.FormFile("image")
	if errors.Is(err, http.ErrMissingFile) || errors.Is(err, http.ErrNotMultipart) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read the image: %w", err)
	}
	if fh.Size > maxImageBytes {
		return nil, fmt.Sprintf("The image is %.1f MB; WhatsApp campaigns take images up to 5 MB.", float64(fh.Size)/(1<<20)), nil
	}
	f, err := fh.Open()
	if err != nil {
		return nil, "", fmt.Errorf("read the image: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxImageBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read the image: %w", err)
	}
	switch mime := http.DetectContentType(data); {
	case len(data) == 0:
		return nil, "The image file is empty.", nil
	case len(data) > maxImageBytes:
		return nil, "The image is larger than 5 MB; WhatsApp campaigns take images up to 5 MB.", nil
	case !imageTypes[mime]:
		return nil, "This file is not a JPEG, PNG or WebP image. Choose a photo in one of these formats.", nil
	default:
		return &imageUpload{mime: mime, name: filepath.Base(fh.Filename), data: data}, "", nil
	}
}

// saveMessageDraft stores the message step: a new image (which replaces
// the stored one), or the stored one removed, with the draft's fields, in
// one transaction.
func saveMessageDraft(ctx context.Context, ts *db.TenantStore, cp *db.Campaign, f views.MessageForm, img *imageUpload) error {
	return ts.RunInTx(ctx, func(ctx context.Context, tx *db.TenantStore) error {
		switch {
		case img != nil:
			m, err := tx.SaveMedia(ctx, img.mime, img.name, img.data)
			if err != nil {
				return err
			}
			cp.MediaID = &m.ID
		case f.RemoveImage:
			cp.MediaID = nil
		}
		return saveDraft(ctx, tx, cp)
	})
}

// campaignImage is GET /campaigns/:id/image, the draft's image for its
// preview; another tenant's campaign, or one without an image, is a 404.
func (h *handler) campaignImage(c echo.Context) error {
	cp, err := loadCampaign(c)
	if err != nil {
		return err
	}
	if cp.MediaID == nil {
		return fmt.Errorf("campaign %d image: %w", cp.ID, db.ErrNotFound)
	}
	return serveMedia(c, tenantStore(c), *cp.MediaID)
}

// showMedia is GET /media/:id, one of the tenant's files (a sent image).
func (h *handler) showMedia(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return serveMedia(c, tenantStore(c), id)
}

// serveMedia answers a tenant's file with its stored type, kept out of
// shared caches and never sniffed as something else by the browser. Images
// and audio play in the page (with range requests, for seeking a voice
// note); anything else downloads, sandboxed.
func serveMedia(c echo.Context, ts *db.TenantStore, id int64) error {
	m, err := ts.Media(c.Request().Context(), id)
	if err != nil {
		return err
	}
	hd := c.Response().Header()
	hd.Set("Cache-Control", "private, max-age=3600")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hd.Set("Content-Type", m.Mime)
	disposition := "attachment"
	if strings.HasPrefix(m.Mime, "image/") || strings.HasPrefix(m.Mime, "audio/") {
		disposition = "inline"
	}
	name := m.FileName
	if name == "" {
		name = "file"
	}
	hd.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
	http.ServeContent(c.Response(), c.Request(), "", m.CreatedAt, bytes.NewReader(m.Bytes))
	return nil
}
