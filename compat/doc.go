// Package compat is the differential test of jwtpair against the real
// djangorestframework-simplejwt: the same scenarios, sent to a small Django
// project configured as the seed tutorials (simplejwt/, Debian's packages)
// and to the jwtpair example server, answers compared after normalising
// only what must differ (token strings, jti, timestamps).
//
// Every difference either stands in [Documented], with its reason, or
// waits for a part of issue 12 that [PendingWork] names (reported as
// PENDING), or fails the test. It runs in make test:
//
//	cd compat && go test -count=1 -v -run TestSimplejwtParity .
//
// (COMPAT_REPORT=REPORT.md also writes the whole comparison to that file.)
// TestPythonParity compares jwtpair's reading of request bodies
// (internal/drf) with DRF's, body by body. TestSimplejwtMigration moves a
// simplejwt deployment to jwtpair end to end, as the README's "Migrating
// from simplejwt" says: on a database the Django app wrote (SQLite, and
// PostgreSQL with JWTPAIR_POSTGRES_URL and python3-psycopg2), the example's
// -import-simplejwt, then the example with the adoption window open. All
// three need /usr/bin/python3 with Debian's
// python3-djangorestframework-simplejwt; without it they skip with a
// one-line hint, unless JWTPAIR_REQUIRE_BACKENDS=1, when they fail.
//
// The README's "Differences from simplejwt" table is rendered from
// Documented and PendingWork, and quotes the figure of the last run;
// TestReadmeDifferences and TestSimplejwtParity fail when it is out of
// date, and COMPAT_UPDATE_README=1 rewrites it.
package compat
