package dev.mergeval.merge.methods;

import dev.mergeval.merge.StreamedMerge;

/**
 * A {@link StreamedMerge} that needs one pass of whole-tensor statistics (norms, inner products,
 * per tensor or per row), summed in flat index order as the whole-tensor formulas sum them, before
 * its merge: a linear combination per element with coefficients from those statistics.
 */
abstract class OnePassMerge implements StreamedMerge {
    private boolean observed;

    /** @param needsPass false where the result needs no statistics (a single input returned as it is) */
    OnePassMerge(boolean needsPass) {
        this.observed = !needsPass;
    }

    @Override
    public final boolean needsPass() {
        return !observed;
    }

    @Override
    public final void endPass() {
        observed = true;
        finish();
    }

    /** Turns the pass's statistics into the merge's coefficients. */
    abstract void finish();

    /** The merge before its pass is a bug of the caller. */
    final void requireObserved() {
        if (!observed) {
            throw new IllegalStateException("merge before the statistics pass");
        }
    }
}
