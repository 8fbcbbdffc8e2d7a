/** Spark jobs and the {@code mergeval} command line. */
package dev.mergeval.jobs;
