package dev.mergeval.runtime;

/**
 * A request to a model behind an API failed for good (its retries spent, or refused as malformed).
 * Evaluation records it on the prompt's record and counts it; it never becomes a silent zero.
 */
public class ModelRequestException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ModelRequestException(String message) {
        super(message);
    }
}
