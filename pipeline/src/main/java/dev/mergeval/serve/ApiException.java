package dev.mergeval.serve;

/**
 * A request the server answers with an OpenAI-style error body,
 * {@code {"error": {"message", "type", "param", "code"}}}, and HTTP status {@code status}.
 */
final class ApiException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    final int status;
    final String type;
    final String param;
    final String code;

    ApiException(int status, String type, String message, String param, String code) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** HTTP 400, {@code invalid_request_error}, naming the offending field ({@code param}, may be null). */
    static ApiException invalid(String message, String param) {
        return new ApiException(400, "invalid_request_error", message, param, null);
    }

    /** HTTP 400 with an OpenAI error code (e.g. {@code model_not_found}). */
    static ApiException invalid(String message, String param, String code) {
        return new ApiException(400, "invalid_request_error", message, param, code);
    }
}
