# homelab-tui developer tasks. `make test` is the one command CI runs.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: test demo bench sysdeps clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $@

# Debian packages the real-server tests need (binary:package); installed only as root, only when missing.
SYSDEPS := sshd:openssh-server ssh:openssh-client sudo:sudo dnsmasq:dnsmasq-base dig:bind9-dnsutils tmux:tmux

sysdeps:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=""; \
	  for pair in $(SYSDEPS); do \
	    bin=$${pair%%:*}; pkg=$${pair#*:}; \
	    PATH="$$PATH:/usr/sbin:/sbin" command -v $$bin >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	  done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  fi; \
	fi

test: $(VENV)/.installed sysdeps
	$(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

demo: $(VENV)/.installed
	$(VENV)/bin/homelab-tui --demo

bench: $(VENV)/.installed
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
