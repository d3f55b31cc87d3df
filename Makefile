# homelab-tui developer tasks. `make test` is the one command CI runs.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEBS := openssh-server dnsmasq-base bind9-dnsutils tmux

.PHONY: test demo bench sysdeps clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $@

# Debian packages the real-server tests need; installed only when running as root and missing.
sysdeps:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=""; \
	  command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	  command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing="$$missing dnsmasq-base"; \
	  command -v dig >/dev/null 2>&1 || missing="$$missing bind9-dnsutils"; \
	  command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
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
