package dev.mergeval.merge.plan;

import java.io.Serializable;
import java.util.AbstractList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;

/**
 * A plan's output tensors in output order, found by name in constant time. Every unit looks up its
 * slices' tensors, and the scheduler and committer every unit's bytes: a scan or a map built per
 * lookup made those quadratic in the tensor count, seconds for the tens of thousands of expert
 * tensors of a mixture-of-experts model. Equal to any list of the same tensors; the index is
 * rebuilt, not shipped, where a plan is deserialized.
 */
final class OutputTensors extends AbstractList<OutputTensor> implements RandomAccess, Serializable {
    private static final long serialVersionUID = 1L;

    private final List<OutputTensor> tensors;
    /** Position by name, built on first lookup (a benign race: every thread builds the same map). */
    private transient volatile Map<String, Integer> positions;

    private OutputTensors(List<OutputTensor> tensors) {
        this.tensors = List.copyOf(tensors);
    }

    /** {@code tensors} as an indexed list; one already is returned as it is. */
    static OutputTensors of(List<OutputTensor> tensors) {
        return tensors instanceof OutputTensors indexed ? indexed : new OutputTensors(tensors);
    }

    @Override
    public OutputTensor get(int index) {
        return tensors.get(index);
    }

    @Override
    public int size() {
        return tensors.size();
    }

    /** The tensor named {@code name}, or null where the plan has none. */
    OutputTensor byName(String name) {
        Map<String, Integer> index = positions;
        if (index == null) {
            index = new HashMap<>(tensors.size() * 2);
            for (int i = 0; i < tensors.size(); i++) {
                index.put(tensors.get(i).name(), i);
            }
            positions = index;
        }
        Integer i = index.get(name);
        return i == null ? null : tensors.get(i);
    }
}
