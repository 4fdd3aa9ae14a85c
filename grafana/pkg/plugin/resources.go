package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// Resource bounds: the default window is the last day, at most 400 days; at most 10000 values.
const (
	resourceDefaultWindow = 24 * time.Hour
	resourceMaxWindow     = 400 * 24 * time.Hour
	resourceDefaultLimit  = 1000
	resourceMaxLimit      = 10_000
)

// CallResource serves dashboard variables and the editor's pickers:
//
//	GET rooms?from=&to=&limit=                    [{"room","first","last"}]
//	GET values?dimension=&room=&from=&to=&limit=  ["value", ...]
//
// from and to are unix milliseconds or RFC 3339 (default: the last 24 hours); limit defaults to
// 1000, at most 10000. A bad parameter answers 400 with {"error": "..."}.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	u, err := url.Parse(req.URL)
	if err != nil {
		return reply(sender, http.StatusBadRequest, map[string]string{"error": "bad URL"})
	}
	params := u.Query()
	from, to, limit, err := resourceWindow(params)
	if err != nil {
		return reply(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	ctx, cancel := d.queryContext(ctx)
	defer cancel()
	conn, err := d.connection(ctx)
	if err != nil {
		return reply(sender, http.StatusBadGateway, map[string]string{"error": err.Error()})
	}
	switch req.Path {
	case "rooms":
		spaces, err := warehouse.SpacesIn(ctx, conn, from, to, limit)
		if err != nil {
			return reply(sender, statusOf(err), map[string]string{"error": err.Error()})
		}
		out := make([]map[string]any, len(spaces))
		for i, s := range spaces {
			out[i] = map[string]any{"room": s.Space, "first": s.First, "last": s.Last}
		}
		return reply(sender, http.StatusOK, out)
	case "values":
		room := params.Get("room")
		if len(room) > MaxRoomLength {
			return reply(sender, http.StatusBadRequest, map[string]string{"error": "room is too long"})
		}
		values, err := warehouse.DimensionValues(ctx, conn, room, from, to, params.Get("dimension"), limit)
		if err != nil {
			return reply(sender, statusOf(err), map[string]string{"error": err.Error()})
		}
		if values == nil {
			values = []string{}
		}
		return reply(sender, http.StatusOK, values)
	}
	return reply(sender, http.StatusNotFound, map[string]string{"error": "unknown resource: want rooms or values"})
}

func statusOf(err error) int {
	if backend.IsDownstreamError(classify(err)) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func resourceWindow(params url.Values) (from, to time.Time, limit int, err error) {
	to = nowFunc().UTC()
	from = to.Add(-resourceDefaultWindow)
	parse := func(name string, dst *time.Time) error {
		v := params.Get(name)
		if v == "" {
			return nil
		}
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			*dst = time.UnixMilli(ms).UTC()
			return nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return backend.DownstreamErrorf("%s %q: want unix milliseconds or RFC 3339", name, v)
		}
		*dst = t.UTC()
		return nil
	}
	if err := parse("from", &from); err != nil {
		return from, to, 0, err
	}
	if err := parse("to", &to); err != nil {
		return from, to, 0, err
	}
	if to.Before(from) || to.Sub(from) > resourceMaxWindow {
		return from, to, 0, backend.DownstreamErrorf("window %s to %s: want from <= to, at most 400 days", from, to)
	}
	limit = resourceDefaultLimit
	if v := params.Get("limit"); v != "" {
		limit, err = strconv.Atoi(v)
		if err != nil || limit < 1 || limit > resourceMaxLimit {
			return from, to, 0, backend.DownstreamErrorf("limit %q: want 1 to %d", v, resourceMaxLimit)
		}
	}
	return from, to, limit, nil
}

func reply(sender backend.CallResourceResponseSender, status int, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return sender.Send(&backend.CallResourceResponse{
		Status:  status,
		Headers: map[string][]string{"Content-Type": {"application/json"}},
		Body:    b,
	})
}
