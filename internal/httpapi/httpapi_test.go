package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

type fakeSource struct {
	ready    bool
	waiting  []string
	drift    []syncer.DriftedVM
	driftErr error
}

func (f fakeSource) Hosts() []syncer.HostStatus {
	return []syncer.HostStatus{{ID: "h1", URI: "test:///default", Connected: true, VMCount: 3}}
}
func (f fakeSource) Ready() (bool, []string) { return f.ready, f.waiting }
func (f fakeSource) Drift(context.Context) ([]syncer.DriftedVM, error) {
	return f.drift, f.driftErr
}

func serve(t *testing.T, src Source, token, method, path, auth string) (int, string) {
	t.Helper()
	h := NewHandler(src, prometheus.NewRegistry(), token, hclog.NewNullLogger())
	req := httptest.NewRequest(method, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestEndpoints(t *testing.T) {
	d := []syncer.DriftedVM{{Host: "h1", VM: "vm1", ObservedAt: time.Unix(0, 0).UTC(),
		Drift: []vminfo.Drift{{Field: "memory", Recorded: "1", Live: "2"}}}}
	src := fakeSource{ready: true, drift: d}
	cases := []struct {
		src        Source
		method     string
		path, want string
		code       int
	}{
		{src, "GET", "/healthz", "ok\n", 200},
		{src, "HEAD", "/healthz", "", 200},
		{src, "GET", "/readyz", "ready\n", 200},
		{fakeSource{waiting: []string{"a", "b"}}, "GET", "/readyz", "not ready: 2 host(s) not synced yet\n", 503},
		{fakeSource{}, "GET", "/readyz", "not ready: hosts table not read yet\n", 503},
		{src, "GET", "/api/v1/hosts", `"vm_count": 3`, 200},
		{src, "GET", "/api/v1/drift", `"count": 1`, 200},
		{fakeSource{driftErr: errors.New("store gone")}, "GET", "/api/v1/drift", `"error": "store gone"`, 500},
		{src, "POST", "/api/v1/hosts", "", 405},
		{src, "GET", "/api/v2/x", "no endpoint GET /api/v2/x", 404},
		{src, "GET", "/metrics", "", 200},
	}
	for _, c := range cases {
		code, body := serve(t, c.src, "", c.method, c.path, "")
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %s = %d %q, want %d containing %q", c.method, c.path, code, body, c.code, c.want)
		}
	}
	_, body := serve(t, src, "", "GET", "/api/v1/drift", "")
	var got DriftResponse
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.Count != 1 || got.Drifted[0].Drift[0].Field != "memory" {
		t.Errorf("drift body %s: %+v, %v", body, got, err)
	}
}

func TestToken(t *testing.T) {
	src := fakeSource{ready: true}
	for _, c := range []struct {
		path, auth string
		code       int
	}{
		{"/healthz", "", 200}, {"/readyz", "", 200},
		{"/metrics", "", 401}, {"/api/v1/hosts", "", 401}, {"/api/v1/drift", "Bearer nope", 401},
		{"/api/v1/hosts", "bearer s3cret", 401}, {"/api/v1/hosts", "s3cret", 401},
		{"/metrics", "Bearer s3cret", 200}, {"/api/v1/hosts", "Bearer s3cret", 200},
	} {
		if code, body := serve(t, src, "s3cret", "GET", c.path, c.auth); code != c.code {
			t.Errorf("GET %s with %q = %d %s, want %d", c.path, c.auth, code, body, c.code)
		}
	}
}

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr, token, want string
	}{
		{"127.0.0.1:9464", "", ""},
		{"127.0.0.2:9464", "", ""},
		{"[::1]:9464", "", ""},
		{"localhost:0", "", ""},
		{"0.0.0.0:9464", "t", ""},
		{"10.0.0.1:9464", "", `refusing to listen on 10.0.0.1 ("10.0.0.1:9464") without a bearer token`},
		{"[::]:9464", "", `refusing to listen on :: ("[::]:9464") without a bearer token`},
		{":9464", "", `refusing to listen on every interface`},
		{"localhost.evil.example:1", "", "refusing to listen on localhost.evil.example"},
		{"127.0.0.1", "", `invalid listen address "127.0.0.1"`},
		{"127.0.0.1:99999", "", `bad port "99999", want 0-65535`},
	} {
		err := CheckListen(c.addr, c.token)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckListen(%q, %q) = %v, want %q", c.addr, c.token, err, c.want)
		}
	}
}
