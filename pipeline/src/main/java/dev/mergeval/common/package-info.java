/** What every part of Mergeval shares: error kinds, version, hashing. */
package dev.mergeval.common;
