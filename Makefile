# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install java chromium clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,spark]"
	command -v java >/dev/null 2>&1 || test -x "$$JAVA_HOME/bin/java" || $(MAKE) java
	command -v chromium >/dev/null 2>&1 || test -x "$$MIGLINK_CHROMIUM" || $(MAKE) chromium
	touch $(STAMP)

install: $(STAMP)

# The Spark backend (and its parity test) needs a Java runtime: from the system's packages.
java:
	@command -v apt-get >/dev/null 2>&1 || { echo "no Java runtime and no apt-get: install Java 17+ or set JAVA_HOME"; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless

# The report's browser test opens report.html in headless Chromium: from the system's packages
# (or set MIGLINK_CHROMIUM to a Chromium or Chrome binary).
chromium:
	@command -v apt-get >/dev/null 2>&1 || { echo "no Chromium and no apt-get: install Chromium or set MIGLINK_CHROMIUM"; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq --no-install-recommends chromium

demo: $(STAMP)
	$(BIN)/miglink demo --out demo_out

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf demo_out demo_out_data .pytest_cache .hypothesis spark-warehouse
