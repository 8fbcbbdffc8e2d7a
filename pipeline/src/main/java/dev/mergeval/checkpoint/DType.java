package dev.mergeval.checkpoint;

import dev.mergeval.common.BadInputException;
import java.util.Locale;

/**
 * The element types of the safetensors format. Only F64, F32, F16 and BF16 are converted to and
 * from float32 ({@link #isCodecSupported()}); the others, including the two float8 formats, are
 * carried through as raw bytes.
 */
public enum DType {
    F64(8, true, "float64"),
    F32(4, true, "float32"),
    F16(2, true, "float16"),
    BF16(2, true, "bfloat16"),
    I64(8, false, "int64"),
    I32(4, false, "int32"),
    I16(2, false, "int16"),
    I8(1, false, "int8"),
    U64(8, false, "uint64"),
    U32(4, false, "uint32"),
    U16(2, false, "uint16"),
    U8(1, false, "uint8"),
    BOOL(1, false, "bool"),
    F8_E4M3(1, true, "float8_e4m3fn"),
    F8_E5M2(1, true, "float8_e5m2");

    private final int byteSize;
    private final boolean floatingPoint;
    private final String torchName;

    DType(int byteSize, boolean floatingPoint, String torchName) {
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
        this.torchName = torchName;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** True for every floating-point format, the float8 formats included. */
    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /** True where {@link TensorCodec} decodes and encodes this type (F64, F32, F16, BF16). */
    public boolean isCodecSupported() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    /** The name used in safetensors headers ({@code "BF16"}). */
    public String safetensorsName() {
        return name();
    }

    /** The name PyTorch and Hugging Face configs use ({@code "bfloat16"}). */
    public String torchName() {
        return torchName;
    }

    /**
     * Parses a safetensors header dtype.
     *
     * @throws BadInputException for a name the format does not define
     */
    public static DType fromSafetensors(String name) {
        if (name != null) {
            for (DType t : values()) {
                if (t.name().equals(name)) {
                    return t;
                }
            }
        }
        throw new BadInputException("unknown safetensors dtype '" + name + "'");
    }

    /**
     * Parses a dtype as written in mergekit YAML or a Hugging Face {@code torch_dtype}: bfloat16/bf16,
     * float16/fp16/half, float32/fp32/float, float64/fp64/double; a {@code torch.} prefix is accepted.
     *
     * @throws BadInputException for any other name
     */
    public static DType fromTorchName(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        if (n.startsWith("torch.")) {
            n = n.substring("torch.".length());
        }
        switch (n) {
            case "bfloat16":
            case "bf16":
                return BF16;
            case "float16":
            case "fp16":
            case "half":
                return F16;
            case "float32":
            case "fp32":
            case "float":
                return F32;
            case "float64":
            case "fp64":
            case "double":
                return F64;
            default:
                throw new BadInputException("unknown dtype '" + name
                        + "' (expected bfloat16, float16, float32 or float64)");
        }
    }
}
