package db_test

import (
	"testing"

	"github.com/myaibud/aibud/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
