package dev.mergeval.merge.methods;

/**
 * A chunk of a tensor taken as {@code count} vectors, element {@code i} of the flattened tensor in
 * vector {@code (i / outer) % count}: rows along the last dimension ({@code outer} the row length),
 * vectors along dimension 0 ({@code outer} 1), or one vector ({@code outer} the tensor's size).
 * Methods with per-vector statistics (NuSLERP, Model Stock) visit a chunk as its runs of
 * consecutive elements in the same vector.
 */
final class VectorRuns {
    /** One run: chunk elements {@code [from, to)}, all in vector {@code vector}. */
    @FunctionalInterface
    interface Run {
        void visit(int from, int to, int vector);
    }

    private VectorRuns() {
    }

    /** Visits the runs of the chunk of {@code n} elements that starts at flat element {@code offset}, in order. */
    static void forEach(long offset, int n, long outer, int count, Run run) {
        if (n == 0) {
            return;
        }
        int vector = (int) ((offset / outer) % count);
        long at = offset % outer;
        for (int i = 0; i < n; ) {
            int to = (int) Math.min(n, i + (outer - at));
            run.visit(i, to, vector);
            at += to - i;
            i = to;
            if (at == outer) {
                at = 0;
                vector = vector + 1 == count ? 0 : vector + 1;
            }
        }
    }
}
