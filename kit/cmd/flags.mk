# flags.mk - the compiler flags, defined once. The Makefile includes this file;
# kit/cmd/common.sh reads the same lines with sed. Optimisation and sanitizer
# flags are added per build (common.sh: variant_flags).
KIT_CFLAGS = -std=c11 -Wall -Wextra -Wpedantic -Werror -g
LEARNER_CFLAGS = -std=c11 -Wall -Wextra -Wpedantic -g
