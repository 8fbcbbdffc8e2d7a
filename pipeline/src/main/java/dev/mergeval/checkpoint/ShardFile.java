package dev.mergeval.checkpoint;

import java.io.Serializable;

/** One file a checkpoint reads from: its fully qualified path and length in bytes. */
public record ShardFile(String path, long length) implements Serializable {
}
