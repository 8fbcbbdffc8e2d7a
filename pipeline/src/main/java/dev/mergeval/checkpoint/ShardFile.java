package dev.mergeval.checkpoint;

/** One file a checkpoint reads from: its fully qualified path and length in bytes. */
public record ShardFile(String path, long length) {
}
