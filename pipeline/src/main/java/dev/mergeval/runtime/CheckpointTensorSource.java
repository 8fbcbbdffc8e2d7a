package dev.mergeval.runtime;

import dev.mergeval.checkpoint.Checkpoint;
import java.util.LinkedHashSet;
import java.util.Set;

/** A {@link TensorSource} over a checkpoint on disk (single or sharded safetensors, any Hadoop FS). */
public final class CheckpointTensorSource implements TensorSource {

    private final Checkpoint checkpoint;
    private final Set<String> names;

    public CheckpointTensorSource(Checkpoint checkpoint) {
        this.checkpoint = checkpoint;
        this.names = new LinkedHashSet<>(checkpoint.tensorNames());
    }

    @Override
    public String location() {
        return checkpoint.location();
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public long[] shape(String name) {
        return checkpoint.info(name).shape();
    }

    @Override
    public float[] readFloats(String name) {
        return checkpoint.readFloats(name);
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}
