package dev.mergeval.checkpoint;

/**
 * A view of a model whose tensors are the model's own bytes, some read under other names (an
 * output head that is the stored input embedding, a weight spelt as another model spells it):
 * {@link #stored} says which stored tensor a name reads; each view says which names it holds.
 */
public abstract class RenamingCheckpoint extends ForwardingCheckpoint {

    protected RenamingCheckpoint(Checkpoint model) {
        super(model);
    }

    /** The name the model stores the tensor this view calls {@code name} under. */
    protected abstract String stored(String name);

    @Override
    public TensorInfo info(String name) {
        TensorInfo t = model.info(stored(name));
        return new TensorInfo(name, t.dtype(), t.shape(), t.begin(), t.end());
    }

    @Override
    public ShardFile shardOf(String name) {
        return model.shardOf(stored(name));
    }

    @Override
    public void readFloats(String name, long elementOffset, float[] dst, int dstOff, int count) {
        model.readFloats(stored(name), elementOffset, dst, dstOff, count);
    }

    @Override
    public byte[] readRaw(String name, long byteOffset, int length) {
        return model.readRaw(stored(name), byteOffset, length);
    }

    @Override
    public void readStored(String name, long byteOffset, byte[] dst, int dstOff, int length) {
        model.readStored(stored(name), byteOffset, dst, dstOff, length);
    }
}
