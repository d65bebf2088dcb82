# threadlab - concurrency patterns in C, learned by writing them.
#
# `make` sets up, builds, draws and shows your progress; `make test` checks the kit itself.
# `make help` lists every target. The real work lives in kit/cmd/*.sh and kit/grade/*.sh, so each recipe stays short.

SHELL := /bin/sh
BUILD := build
include kit/cmd/flags.mk
CC ?= gcc

# Options (make VAR=value target)
CH ?=
EX ?=
SUBMISSION ?=
RESULTS ?= results/results.json
EXTRA_TESTS ?=
FORMATS ?=
N ?= 3
BUG ?=
LEVEL ?=
export CHAOS_SEED SCHED_SEED TL_INPUT_SEED JOBS

.PHONY: all help deps tools grader-tools programs exercises timelines progress grade run timeline diagrams \
        test soak classroom watch book bench clean hint bug compile_commands.json

## all: install what is missing, build everything, draw the timelines, show your progress
all: deps tools programs exercises timelines progress

## help: list the targets
help:
	@echo "threadlab targets (options in CAPITALS: make grade EX=01-fork-join/sum)"
	@sed -n 's/^## \([a-z_.]*\): /\1|/p' Makefile | awk -F'|' '{ printf "  %-22s %s\n", $$1, $$2 }'

## deps: check for gcc, Check, Graphviz...; install them with apt-get when root or sudo allows
deps:
	@sh kit/cmd/deps.sh graphviz

# The kit's objects that every test binary links, once per build variant. The
# grader (kit/grade/grade.sh) runs `make tools` and links these; the variants'
# flags are common.sh's variant_flags, so they are written down once.
VARIANTS := func tsan asan
KIT_OBJS := $(foreach v,$(VARIANTS),$(BUILD)/kit/obj/$(v)/tlwrap.o $(BUILD)/kit/obj/$(v)/trace.o)
variant_flags = $(shell KIT=. sh -c '. kit/cmd/common.sh && variant_flags $(1)')

## tools: build the kit's own tools (timeline renderer, report writer, JSON checker) and objects
tools: $(BUILD)/kit/timeline $(BUILD)/kit/tlreport $(BUILD)/kit/jsoncheck grader-tools

## grader-tools: only what kit/grade/grade.sh needs (the report writer, the kit's objects)
grader-tools: $(BUILD)/kit/tlreport $(KIT_OBJS)

$(BUILD)/kit/obj/%/tlwrap.o: kit/wrap/tlwrap.c $(wildcard kit/wrap/*.h kit/wrap/*.def kit/proto/* kit/trace/*.h) kit/cmd/flags.mk
	@mkdir -p $(@D)
	$(CC) $(KIT_CFLAGS) $(call variant_flags,$*) -c $< -o $@

$(BUILD)/kit/obj/%/trace.o: kit/trace/trace.c $(wildcard kit/trace/*.h kit/proto/*) kit/cmd/flags.mk
	@mkdir -p $(@D)
	$(CC) $(KIT_CFLAGS) $(call variant_flags,$*) -c $< -o $@

$(BUILD)/kit/timeline: kit/trace/timeline.c kit/trace/trace.h
	@mkdir -p $(@D)
	$(CC) $(KIT_CFLAGS) -O2 $< -o $@ $$(pkg-config --cflags --libs jansson) -lm

$(BUILD)/kit/tlreport: $(wildcard kit/grade/report/*.[ch]) kit/proto/protocol.h kit/proto/protocol.def
	@mkdir -p $(@D)
	$(CC) $(KIT_CFLAGS) -O2 kit/grade/report/*.c -o $@ -lm -ljansson

$(BUILD)/kit/jsoncheck: kit/grade/jsoncheck.c
	@mkdir -p $(@D)
	$(CC) $(KIT_CFLAGS) -O2 $< -o $@ -ljansson

## programs: build every chapter program, plain and traced
programs:
	@sh kit/cmd/chapters.sh programs

## exercises: compile your exercise files (warnings shown, never fatal)
exercises:
	@sh kit/cmd/chapters.sh exercises

## timelines: run each chapter program traced and draw build/timelines/*.svg
timelines: tools programs
	@sh kit/cmd/chapters.sh timelines $(BUILD)/timelines

## progress: a quick table of your exercises (functional tests and ThreadSanitizer) [SUBMISSION=DIR] [EX=ch/ex]
progress: deps
	@sh kit/grade/grade.sh -P "func tsan" -b -r $(BUILD)/progress/results.json $(if $(SUBMISSION),-s $(SUBMISSION)) \
	    $(if $(EX),-e $(EX)) $(if $(CH),-e $(CH))

## grade: grade exercises with every pass [SUBMISSION=DIR] [EX=ch/ex] [RESULTS=file] [EXTRA_TESTS=DIR] [FORMATS=tap,junit,autolab,classroom]
grade: deps
	@sh kit/grade/grade.sh -r $(RESULTS) $(if $(SUBMISSION),-s $(SUBMISSION)) $(if $(EX),-e $(EX)) \
	    $(if $(CH),-e $(CH)) $(if $(EXTRA_TESTS),-x $(EXTRA_TESTS)) $(if $(FORMATS),-f $(FORMATS))

## run: run one chapter program, e.g. make run CH=01
run: programs
	@sh kit/cmd/chapters.sh run "$(CH)"

## timeline: draw your own exercise at work, e.g. make timeline EX=01-fork-join/sum [SUBMISSION=DIR] [SCHED_SEED=N [TEST=name]]
timeline: tools
	@sh kit/cmd/chapters.sh timeline "$(EX)" $(BUILD)/timelines "$(if $(SUBMISSION),$(abspath $(SUBMISSION)),chapters)"

## diagrams: redraw the book's diagrams in diagrams/ from traced runs [CH=NN: one chapter]
diagrams: tools programs
	@sh kit/cmd/chapters.sh timelines diagrams $(CH)

## watch: regrade an exercise each time you save it
watch: deps
	@sh kit/cmd/watch.sh $(EX)

## hint: the next hint for an exercise, one more each time, e.g. make hint EX=04/queue [LEVEL=n: see hint n again] [LEVEL=reset]
hint:
	@sh kit/cmd/hint.sh "$(EX)" $(LEVEL)

## bug: list a chapter's known bugs, or grade one and draw its timeline: make bug CH=04 [BUG=queue--if-not-while]
bug: tools
	@sh kit/cmd/bug.sh "$(CH)" $(BUG)

## compile_commands.json: for clangd and other editors: every C file with the grader's flags and the kit's headers
compile_commands.json:
	@sh kit/cmd/compdb.sh $@

## book: refresh the code excerpts in book.md from the sources, and write build/book.html (with pandoc)
book:
	@sh kit/cmd/book.sh update && sh kit/cmd/book.sh html $(BUILD)/book.html

## test: the kit's own test suite (solutions pass, skeletons and known bugs fail, book in sync) [CH=NN]
test: deps tools
	@sh kit/cmd/selftest.sh

## bench: measure each pattern's solution against the library a practitioner would use instead (build/bench/); installs the anchors when root
bench:
	@sh kit/bench/bench.sh

## soak: N rounds of grading the solutions, known-buggy variants and hostile submissions (idle, beside CPU hogs, four graders at once); reports every changed verdict [N=rounds] [CH=NN]
soak: deps tools
	@sh kit/cmd/soak.sh $(N) $(CH)

## classroom: write classroom/ (student starter, Gradescope zip, GitHub Classroom, Autolab)
classroom: tools
	@sh kit/cmd/classroom.sh classroom

## clean: remove build outputs (your exercise files are never touched)
clean:
	rm -rf $(BUILD) results
