package dev.mergeval.merge;

import dev.mergeval.checkpoint.Checkpoint;

/**
 * The layers of one module of a model ({@link MergekitModules}), as a layout stacks them: which of
 * its tensors are layers and of which index, how a layer tensor is named at another index, which
 * of the others come before the layers, and how many layers a model has.
 */
interface LayerStack {

    /**
     * A whole model as one stack, its tensors' roles told by their names ({@link TensorMerger}):
     * a {@code slices:} config's, and a {@code modules:} config's over a model of one module.
     */
    LayerStack WHOLE = new LayerStack() {
        @Override
        public String module() {
            return MergekitModules.DEFAULT;
        }

        @Override
        public String layersKey() {
            return null;
        }

        @Override
        public int layerIndex(String tensor) {
            return TensorMerger.layerIndex(tensor);
        }

        @Override
        public String withLayerIndex(String tensor, int layer) {
            return TensorMerger.withLayerIndex(tensor, layer);
        }

        @Override
        public boolean isPre(String tensor) {
            return TensorMerger.isPreWeight(tensor);
        }

        @Override
        public int layerCount(Checkpoint model) {
            return MergeLayout.layerCount(model);
        }
    };

    /** The module's name. */
    String module();

    /** The {@code config.json} key (dotted into sub-configs) that counts its layers; null for the family's own. */
    String layersKey();

    /** The layer index of {@code tensor}, or -1 where it is not a layer tensor. */
    int layerIndex(String tensor);

    /** {@code tensor} named at layer {@code layer} (as it is where it is not a layer tensor). */
    String withLayerIndex(String tensor, int layer);

    /** Whether a tensor outside the layers comes before them (an embedding). */
    boolean isPre(String tensor);

    /** How many layers {@code model} has in this stack, or -1 where its config does not say. */
    int layerCount(Checkpoint model);
}
