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

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/store"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/vminfo"
)

type fakeSource struct {
	ready    bool
	reason   string
	drift    observe.Report
	driftErr error
}

func (f fakeSource) Hosts() []syncer.HostStatus {
	return []syncer.HostStatus{{ID: "h1", URI: "test:///default", Connected: true, VMCount: 3}}
}
func (f fakeSource) Ready() (bool, string) { return f.ready, f.reason }
func (f fakeSource) Drift(context.Context) (observe.Report, error) {
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
	at := time.Unix(0, 0).UTC()
	d := observe.NewReport([]observe.Result{{HostID: "h1", Name: "vm1", Verdict: observe.Drifted, At: at,
		Row:   &store.VM{ID: 4},
		Live:  &observe.Live{Info: vminfo.VMInfo{State: vminfo.StatePaused}},
		Drift: []vminfo.Drift{{Field: "max_mem", Recorded: "262144", Live: "524288"}}}}, nil)
	d.Checked = 2
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
		{fakeSource{reason: "2 host(s) not synced yet: a, b"}, "GET", "/readyz", "not ready: 2 host(s) not synced yet: a, b\n", 503},
		{fakeSource{reason: "store file is gone"}, "GET", "/readyz", "not ready: store file is gone\n", 503},
		{src, "GET", "/api/v1/hosts", `"vm_count": 3`, 200},
		{src, "GET", "/api/v1/drift", `"checked": 2`, 200},
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
	var got observe.Report
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.VMs) != 1 || got.InStep {
		t.Fatalf("drift body %s: %+v, %v; want one VM, not in step", body, got, err)
	}
	e := got.VMs[0]
	want := observe.Field{Attribute: "max_memory", Recorded: "256 MiB", Live: "512 MiB", Path: "max_mem"}
	if e.Verdict != observe.Drifted || e.State != "paused" || e.StateCode != vminfo.StatePaused || e.RowID != 4 ||
		len(e.Drift) != 1 || e.Drift[0] != want || e.ObservedAt == nil || !e.ObservedAt.Equal(at) {
		t.Errorf("drift entry %+v: want drifted, state paused (code 3), row 4, %+v, observed at %s", e, want, at)
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
