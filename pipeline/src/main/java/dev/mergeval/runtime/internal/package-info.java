/** Runtime internals not meant for other packages. */
package dev.mergeval.runtime.internal;
