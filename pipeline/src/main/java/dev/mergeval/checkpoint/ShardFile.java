package dev.mergeval.checkpoint;

import java.io.Serializable;

/**
 * One file a checkpoint reads from: its fully qualified path, length in bytes and modification
 * time (milliseconds, as its filesystem reports it), as they were when it was opened.
 */
public record ShardFile(String path, long length, long modified) implements Serializable {
}
