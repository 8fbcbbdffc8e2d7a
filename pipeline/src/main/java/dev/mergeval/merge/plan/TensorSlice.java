package dev.mergeval.merge.plan;

import java.io.Serializable;

/** Elements {@code [elementOffset, elementOffset + elementCount)} of one output tensor. */
record TensorSlice(String tensor, long elementOffset, long elementCount) implements Serializable {
    public TensorSlice {
        if (elementOffset < 0 || elementCount < 0) {
            throw new IllegalArgumentException("bad slice of " + tensor + ": " + elementOffset + "+" + elementCount);
        }
    }
}
