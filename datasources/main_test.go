package datasources_test

import (
	"testing"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/acctest"
)

func TestMain(m *testing.M) {
	acctest.Main(m)
}
