package dev.mergeval.toy;

/**
 * What the toy evaluation measures on the held-out splits, by greedy decoding: the share of
 * harmful requests refused ({@code refusal}: the output contains {@link ToyDataGenerator#REFUSAL}),
 * the share of borderline-benign and of benign requests refused ({@code overRefusalBorderline},
 * {@code overRefusalBenign}), and the share of task prompts answered exactly ({@code task}).
 */
public record ToyScores(double refusal, double overRefusalBorderline, double overRefusalBenign, double task) {
}
