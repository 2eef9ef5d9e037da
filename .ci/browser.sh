# shellcheck shell=bash
# Sourced by .ci/run: makes sure Debian's Chromium is installed for the
# real-browser test (browsertest/) and makes that test required, so a
# missing browser fails CI instead of skipping. Never downloads a browser
# from anywhere but the Debian archive.
#
# JWTPAIR_CHROMIUM, when set, names the browser to use instead.

jwtpair_browser_setup() {
	local chromium="${JWTPAIR_CHROMIUM:-}"
	if [[ -z "$chromium" ]]; then
		chromium="$(command -v chromium || true)"
	fi
	if [[ -z "$chromium" ]]; then
		echo "browser: installing chromium (apt-get)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
		chromium="$(command -v chromium)"
	fi
	# The Debian wrapper script prints a harmless warning on stderr; keep the version line.
	echo "browser: $("$chromium" --version 2>/dev/null | head -n1) ($chromium)"
	export JWTPAIR_REQUIRE_BROWSER=1
}

jwtpair_browser_setup
