# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install java clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,spark]"
	command -v java >/dev/null 2>&1 || test -x "$$JAVA_HOME/bin/java" || $(MAKE) java
	touch $(STAMP)

install: $(STAMP)

# The Spark backend (and its parity test) needs a Java runtime: from the system's packages.
java:
	@command -v apt-get >/dev/null 2>&1 || { echo "no Java runtime and no apt-get: install Java 17+ or set JAVA_HOME"; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless

demo: $(STAMP)
	$(BIN)/miglink demo --out demo_out

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf demo_out demo_out_data .pytest_cache .hypothesis spark-warehouse
