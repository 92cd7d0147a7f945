#ifndef FACEC_COMMAND_LINE_H
#define FACEC_COMMAND_LINE_H

/* The process's argc/argv as glibc hands them to ELF constructors, captured
 * before main. Swift's CommandLine.arguments reads /proc/self/cmdline in a
 * static binary, which is empty where /proc is not mounted (a bare chroot,
 * some containers); these are always there. */
int facec_argc(void);
char **facec_argv(void);

#endif
