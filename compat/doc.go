// Package compat is the differential test of jwtpair against the real
// djangorestframework-simplejwt: the same scenarios, sent to a small Django
// project configured as the seed tutorials (simplejwt/, Debian's packages)
// and to the jwtpair example server, answers compared after normalising
// only what must differ (token strings, jti, timestamps).
//
// Every difference either stands in [Documented], with its reason, or fails
// the test. Run it with
//
//	cd compat && JWTPAIR_COMPAT=1 go test -count=1 -v -run TestSimplejwtParity .
//
// (COMPAT_REPORT=REPORT.md also writes the whole comparison to that file.)
// It needs /usr/bin/python3 with Debian's
// python3-djangorestframework-simplejwt; without them it skips, unless
// JWTPAIR_REQUIRE_BACKENDS=1, when it fails.
package compat
