#include "command_line.h"

static int saved_argc;
static char **saved_argv;

/* glibc calls .init_array functions with (argc, argv, envp). */
static void capture(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}

__attribute__((section(".init_array"), used))
static void (*const facec_capture_arguments)(int, char **, char **) = capture;

int facec_argc(void) { return saved_argc; }
char **facec_argv(void) { return saved_argv; }
