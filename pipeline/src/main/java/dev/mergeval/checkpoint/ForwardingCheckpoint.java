package dev.mergeval.checkpoint;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint that reads through to another, for views that change some tensors of a model (a
 * LoRA adapter applied on load, an output head tied to the embedding, token rows re-indexed to
 * another vocabulary): each overrides what it changes. Closing the view closes the model.
 */
public abstract class ForwardingCheckpoint implements Checkpoint {

    /** The checkpoint read through to. */
    protected final Checkpoint model;

    protected ForwardingCheckpoint(Checkpoint model) {
        this.model = model;
    }

    @Override
    public String location() {
        return model.location();
    }

    @Override
    public String root() {
        return model.root();
    }

    @Override
    public List<String> tensorNames() {
        return model.tensorNames();
    }

    @Override
    public boolean contains(String name) {
        return model.contains(name);
    }

    @Override
    public TensorInfo info(String name) {
        return model.info(name);
    }

    @Override
    public ShardFile shardOf(String name) {
        return model.shardOf(name);
    }

    @Override
    public void readFloats(String name, long elementOffset, float[] dst, int dstOff, int count) {
        model.readFloats(name, elementOffset, dst, dstOff, count);
    }

    @Override
    public byte[] readRaw(String name, long byteOffset, int length) {
        return model.readRaw(name, byteOffset, length);
    }

    @Override
    public void readStored(String name, long byteOffset, byte[] dst, int dstOff, int length) {
        model.readStored(name, byteOffset, dst, dstOff, length);
    }

    @Override
    public List<ShardFile> shardFiles() {
        return model.shardFiles();
    }

    @Override
    public ObjectNode config() {
        return model.config();
    }

    @Override
    public Map<String, String> metadata() {
        return model.metadata();
    }

    @Override
    public void close() {
        model.close();
    }
}
