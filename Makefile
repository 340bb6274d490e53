PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=
DEMO   := experiment=quality_cpu trainer.max_steps=2400 trainer.max_epochs=-1 callbacks.samples.every_n_steps=400 hydra.run.dir=outputs/demo tags=[demo]

.DEFAULT_GOAL := help
.PHONY: help install lint test test-full demo docs docs-serve train tensorboard bench bench-modes bench-stacked-mnist bench-conditioning bench-quality clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install:  ## create .venv with the pinned torch/torchvision and gan_lab (editable, with the dev, fid, cluster, loggers and docs extras)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev,fid,cluster,loggers,docs]'

lint:  ## ruff: lint and format check (configured in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint  ## lint, then the fast test suite (CPU, offline, < 15 min)
	$(BIN)/python -m pytest -q

test-full:  ## every test, including the slow ones
	$(BIN)/python -m pytest -q -m ''

demo:  ## about 4 minutes on a 2-core CPU: the best CPU recipe (experiment=quality_cpu), 2,400 steps on the embedded digits -> outputs/demo, then TensorBoard
	rm -rf outputs/demo
	$(BIN)/python -m gan_lab $(DEMO) $(ARGS)
	@echo "digits: outputs/demo/samples/step_002400.png · TensorBoard: http://localhost:6006/#custom_scalars (Ctrl-C stops it)"
	$(BIN)/tensorboard --logdir outputs/demo

docs:  ## build the documentation site into site/ (offline, mkdocs build --strict)
	$(BIN)/mkdocs build --strict --site-dir site

docs-serve:  ## serve the documentation at http://127.0.0.1:8000, rebuilt on every change
	$(BIN)/mkdocs serve

train:  ## train with Hydra overrides, e.g. make train ARGS="model=wgan_gp trainer.max_steps=500"
	$(BIN)/python -m gan_lab $(ARGS)

tensorboard:  ## open TensorBoard on every run in outputs/
	$(BIN)/tensorboard --logdir outputs

bench:  ## CPU benchmarks (about 7 min on 2 cores), tables to benchmarks/results/
	$(BIN)/python benchmarks/throughput.py --seconds 4 --warmup 1 --rounds 4
	$(BIN)/python benchmarks/data_path.py --images 10000

bench-conditioning:  ## every G/D conditioning pair of model=cgan and model=biggan, 2,000 steps on mnist_5k, judged by the MNIST classifier (~1 h on 2 cores)
	test -f outputs/classifiers/mnist.ckpt || $(BIN)/python -m gan_lab.classifier data=mnist epochs=2
	$(BIN)/python benchmarks/conditioning.py --classifier outputs/classifiers/mnist.ckpt $(ARGS)
	$(BIN)/python benchmarks/conditioning.py --model biggan --pairs shared/projection --classifier outputs/classifiers/mnist.ckpt $(ARGS)

CIFAR_JPG ?= ../shared/data/cifar10-test-jpg
bench-quality:  ## quality_cpu vs default DCGAN at 5 min of CPU each: full MNIST and the CIFAR-10 JPEG folder (~30 min)
	test -f outputs/classifiers/mnist.ckpt || $(BIN)/python -m gan_lab.classifier data=mnist epochs=2
	$(BIN)/python benchmarks/quality_cpu.py --data mnist --classifier outputs/classifiers/mnist.ckpt $(ARGS)
	test -f outputs/classifiers/cifar10_jpg.ckpt || $(BIN)/python -m gan_lab.classifier data=folder \
		data.root=$(CIFAR_JPG) +data.source.test_root=$(CIFAR_JPG) data.image_size=32 data.num_classes=10 epochs=8 \
		output=outputs/classifiers/cifar10_jpg.ckpt
	$(BIN)/python benchmarks/quality_cpu.py --data folder --classifier outputs/classifiers/cifar10_jpg.ckpt \
		--override data.root=$(CIFAR_JPG) +data.source.test_root=$(CIFAR_JPG) data.image_size=32 $(ARGS)

bench-modes:  ## mode-collapse study: mode_collapse_best × ring/grid × 5 seeds, 80,000 steps (~80 min on 2 cores), table to benchmarks/results/
	$(BIN)/python benchmarks/mode_collapse.py --recipes mode_collapse_best --seeds 0 1 2 3 4 $(ARGS)

bench-stacked-mnist:  ## Stacked MNIST, 1,000 modes: DCGAN vs stacked_mnist_best, 20,000 steps each (~1.5 h a run on a CPU core)
	test -f outputs/classifiers/mnist.ckpt || $(BIN)/python -m gan_lab.classifier data=mnist epochs=2
	$(BIN)/python benchmarks/mode_collapse.py --recipes stacked_mnist_dcgan stacked_mnist_best --data stacked_mnist \
		--seeds 0 $(ARGS)

clean:  ## remove run outputs, caches and the built site (keeps .venv)
	rm -rf outputs multirun .pytest_cache site
