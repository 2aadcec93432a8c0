# Two commands: `make demo` and `make test`. Each creates/refreshes .venv and installs what it needs.
# torch: override for CUDA builds, e.g.
#   make demo TORCH='torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128'
# or export TEXTBOOKS_TORCH='...' in the environment.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= $(or $(TEXTBOOKS_TORCH),torch==2.13.0)
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow venv sandbox-tools clean bench FORCE

venv: $(STAMP)

# Reinstall when the package metadata changes, or when TORCH differs from the spec the stamp recorded
# (e.g. `make test TORCH='torch==2.13.0 --index-url .../cu128'` after a CPU install).
ifneq ($(strip $(shell cat $(STAMP) 2>/dev/null)),$(strip $(TORCH)))
$(STAMP): FORCE
endif
FORCE:

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	@$(MAKE) --no-print-directory sandbox-tools
	@echo "$(TORCH)" > $(STAMP)

# bubblewrap isolates evaluated programs (textbooks/eval/sandbox.py); install it where apt works (as root, or
# with passwordless sudo as on CI runners), then check that it can create namespaces here.
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
	  if [ "$$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then \
	    ($$SUDO apt-get install -y -qq bubblewrap >/dev/null 2>&1 || ($$SUDO apt-get update -qq >/dev/null 2>&1 && $$SUDO apt-get install -y -qq bubblewrap >/dev/null 2>&1)) \
	      && echo "installed bubblewrap" || echo "WARNING: could not install bubblewrap; the evaluation sandbox will refuse to run (install bubblewrap, or pass --isolation process to run without it)"; \
	  else echo "WARNING: bwrap not found and apt unavailable: install 'bubblewrap'; without it the evaluation sandbox refuses to run (or pass --isolation process)"; fi; }
	@command -v bwrap >/dev/null 2>&1 && { bwrap --ro-bind / / --dev /dev --proc /proc --unshare-net --unshare-pid true 2>/dev/null \
	  || echo "WARNING: bwrap is installed but cannot create namespaces here (user namespaces disabled?); the evaluation sandbox will refuse to run (allow user namespaces, or pass --isolation process)"; } || true

# The whole recipe and the Figure 2.1 arms at demo scale (~15-20 min on 2 cores); a rerun skips finished stages.
demo: venv
	$(VENV)/bin/textbooks run configs/pipeline/demo.yaml

# pytest exits 5 when no test is collected (e.g. a -k filter); that is not a failure.
test: venv
	$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

test-slow: venv
	$(PY) -m pytest -q -m slow

bench: venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs demo-out .pytest_cache
