/*
 * gb_stop.h — a polite stop on SIGINT / SIGTERM. The handler only records which signal came
 * (async-signal-safe: one atomic store); the runner polls gb_stop_signal() between repetitions,
 * finishes the repetition in flight, releases everything and reports what it measured. A second
 * signal of either kind restores the default action and re-raises it: the user who presses
 * Ctrl-C twice gets the process ended at once (the kernel then frees the mappings and pins).
 */
#ifndef GB_STOP_H
#define GB_STOP_H

/* Install the handlers for SIGINT and SIGTERM (sigaction, SA_RESTART). 0 or -errno. */
int gb_stop_install(void);

/* The first SIGINT or SIGTERM received since gb_stop_install(), or 0 when none has come. */
int gb_stop_signal(void);

#endif /* GB_STOP_H */
