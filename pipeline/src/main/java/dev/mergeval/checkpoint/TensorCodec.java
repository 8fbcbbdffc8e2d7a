package dev.mergeval.checkpoint;

import dev.mergeval.common.BadInputException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.ShortBuffer;
import java.util.Objects;

/**
 * Converts little-endian tensor bytes to and from float32 for F64, F32, F16 and BF16.
 *
 * <p>Decoding is exact (every F16 and BF16 value is a float32; F64 is rounded to nearest-even by
 * the {@code (float)} cast). Encoding rounds to nearest, ties to even, with overflow to infinity,
 * gradual underflow to subnormals and signed zeros kept. NaN payloads are kept as far as the
 * target format allows: the top mantissa bits are carried over, and a NaN whose surviving bits
 * would all be zero gets the quiet bit so that it stays a NaN. Consequently F16 (or BF16) to
 * float32 and back is the identity on all 65536 bit patterns, NaNs included. (F64 goes through
 * the hardware double/float conversion, which turns a signalling NaN into a quiet one.)
 *
 * <p>Bulk calls go through {@code asShortBuffer()/asFloatBuffer()/asDoubleBuffer()} views (one
 * bounds check per chunk, not per element) and advance the caller's buffer position; the caller's
 * byte order setting is left alone. Decoding from a byte array (or a buffer backed by one) reads
 * the elements straight out of it through a little-endian array view, with no intermediate copy
 * and no branch per element: a merge decodes every input byte, so this loop sets its pace.
 */
public final class TensorCodec {

    /** Elements converted per chunk: bounds the scratch array to 64 KB per thread. */
    private static final int CHUNK = 8192;

    private static final float[] F16_TO_F32 = new float[65536];

    private static final VarHandle LE_SHORT = MethodHandles.byteArrayViewVarHandle(short[].class,
            ByteOrder.LITTLE_ENDIAN);

    static {
        for (int h = 0; h < 65536; h++) {
            F16_TO_F32[h] = Float.intBitsToFloat(f16BitsToF32Bits(h));
        }
    }

    private static final ThreadLocal<short[]> SHORT_SCRATCH =
            ThreadLocal.withInitial(() -> new short[CHUNK]);
    private static final ThreadLocal<double[]> DOUBLE_SCRATCH =
            ThreadLocal.withInitial(() -> new double[CHUNK]);

    private TensorCodec() {
    }

    /**
     * Decodes {@code count} elements of type {@code dt} from {@code src} (little-endian, read from
     * its position, which advances) into {@code dst[dstOff..dstOff+count)}.
     *
     * @throws BadInputException if {@code dt} is not F64, F32, F16 or BF16
     */
    public static void decode(DType dt, ByteBuffer src, float[] dst, int dstOff, int count) {
        requireCodec(dt);
        int bytes = Math.multiplyExact(count, dt.byteSize());
        if (src.remaining() < bytes) {
            throw new IllegalArgumentException("decode of " + count + " " + dt + " needs " + bytes
                    + " bytes, buffer has " + src.remaining());
        }
        if (src.hasArray() && (dt == DType.BF16 || dt == DType.F16)) {
            decode(dt, src.array(), src.arrayOffset() + src.position(), dst, dstOff, count);
            src.position(src.position() + bytes);
            return;
        }
        ByteBuffer le = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        switch (dt) {
            case F32:
                le.asFloatBuffer().get(dst, dstOff, count);
                break;
            case F16: {
                ShortBuffer sb = le.asShortBuffer();
                short[] s = SHORT_SCRATCH.get();
                for (int done = 0; done < count; ) {
                    int n = Math.min(CHUNK, count - done);
                    sb.get(s, 0, n);
                    int o = dstOff + done;
                    for (int i = 0; i < n; i++) {
                        dst[o + i] = F16_TO_F32[s[i] & 0xffff];
                    }
                    done += n;
                }
                break;
            }
            case BF16: {
                ShortBuffer sb = le.asShortBuffer();
                short[] s = SHORT_SCRATCH.get();
                for (int done = 0; done < count; ) {
                    int n = Math.min(CHUNK, count - done);
                    sb.get(s, 0, n);
                    int o = dstOff + done;
                    for (int i = 0; i < n; i++) {
                        dst[o + i] = Float.intBitsToFloat(s[i] << 16);
                    }
                    done += n;
                }
                break;
            }
            case F64: {
                DoubleBuffer db = le.asDoubleBuffer();
                double[] d = DOUBLE_SCRATCH.get();
                for (int done = 0; done < count; ) {
                    int n = Math.min(CHUNK, count - done);
                    db.get(d, 0, n);
                    int o = dstOff + done;
                    for (int i = 0; i < n; i++) {
                        dst[o + i] = (float) d[i];
                    }
                    done += n;
                }
                break;
            }
            default:
                throw new AssertionError(dt);
        }
        src.position(src.position() + bytes);
    }

    /**
     * Decodes {@code count} elements of type {@code dt} from {@code src[srcOff..]} (little-endian)
     * into {@code dst[dstOff..dstOff+count)}; the same values as the {@link ByteBuffer} form.
     *
     * @throws BadInputException if {@code dt} is not F64, F32, F16 or BF16
     */
    public static void decode(DType dt, byte[] src, int srcOff, float[] dst, int dstOff, int count) {
        requireCodec(dt);
        Objects.checkFromIndexSize(srcOff, Math.multiplyExact(count, dt.byteSize()), src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        switch (dt) {
            case F16:
                for (int i = 0; i < count; i++) {
                    dst[dstOff + i] = F16_TO_F32[(short) LE_SHORT.get(src, srcOff + 2 * i) & 0xffff];
                }
                break;
            case BF16:
                for (int i = 0; i < count; i++) {
                    dst[dstOff + i] = Float.intBitsToFloat((short) LE_SHORT.get(src, srcOff + 2 * i) << 16);
                }
                break;
            default:
                // F32 and F64 go through the buffer views' bulk copies.
                decode(dt, ByteBuffer.wrap(src, srcOff, count * dt.byteSize()).slice(), dst, dstOff, count);
                break;
        }
    }

    /**
     * Encodes {@code src[off..off+count)} as {@code dt} into {@code dst} (little-endian, written at
     * its position, which advances), rounding to nearest-even.
     *
     * @throws BadInputException if {@code dt} is not F64, F32, F16 or BF16
     */
    public static void encode(DType dt, float[] src, int off, int count, ByteBuffer dst) {
        requireCodec(dt);
        int bytes = Math.multiplyExact(count, dt.byteSize());
        if (dst.remaining() < bytes) {
            throw new IllegalArgumentException("encode of " + count + " " + dt + " needs " + bytes
                    + " bytes, buffer has " + dst.remaining());
        }
        ByteBuffer le = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        switch (dt) {
            case F32:
                le.asFloatBuffer().put(src, off, count);
                break;
            case F16: {
                ShortBuffer sb = le.asShortBuffer();
                short[] s = SHORT_SCRATCH.get();
                for (int done = 0; done < count; ) {
                    int n = Math.min(CHUNK, count - done);
                    int o = off + done;
                    for (int i = 0; i < n; i++) {
                        s[i] = floatToF16(src[o + i]);
                    }
                    sb.put(s, 0, n);
                    done += n;
                }
                break;
            }
            case BF16: {
                ShortBuffer sb = le.asShortBuffer();
                short[] s = SHORT_SCRATCH.get();
                for (int done = 0; done < count; ) {
                    int n = Math.min(CHUNK, count - done);
                    int o = off + done;
                    for (int i = 0; i < n; i++) {
                        s[i] = floatToBf16(src[o + i]);
                    }
                    sb.put(s, 0, n);
                    done += n;
                }
                break;
            }
            case F64: {
                DoubleBuffer db = le.asDoubleBuffer();
                double[] d = DOUBLE_SCRATCH.get();
                for (int done = 0; done < count; ) {
                    int n = Math.min(CHUNK, count - done);
                    int o = off + done;
                    for (int i = 0; i < n; i++) {
                        d[i] = src[o + i];
                    }
                    db.put(d, 0, n);
                    done += n;
                }
                break;
            }
            default:
                throw new AssertionError(dt);
        }
        dst.position(dst.position() + bytes);
    }

    /**
     * Encodes {@code src[off..off+count)} as {@code dt} into {@code dst[dstOff..]} (little-endian),
     * the same bytes as the {@link ByteBuffer} form, written in place with no scratch copy.
     *
     * @throws BadInputException if {@code dt} is not F64, F32, F16 or BF16
     */
    public static void encode(DType dt, float[] src, int off, int count, byte[] dst, int dstOff) {
        requireCodec(dt);
        Objects.checkFromIndexSize(off, count, src.length);
        Objects.checkFromIndexSize(dstOff, Math.multiplyExact(count, dt.byteSize()), dst.length);
        switch (dt) {
            case BF16:
                for (int i = 0; i < count; i++) {
                    LE_SHORT.set(dst, dstOff + 2 * i, floatToBf16(src[off + i]));
                }
                break;
            case F16:
                for (int i = 0; i < count; i++) {
                    LE_SHORT.set(dst, dstOff + 2 * i, floatToF16(src[off + i]));
                }
                break;
            default:
                encode(dt, src, off, count, ByteBuffer.wrap(dst, dstOff, count * dt.byteSize()).slice());
                break;
        }
    }

    /**
     * Rounds every value to the precision of {@code dt} in place (encode then decode), as storing
     * in {@code dt} and reading back would; a no-op for F32.
     */
    public static void roundTo(DType dt, float[] values, int off, int count) {
        requireCodec(dt);
        switch (dt) {
            case F16:
                for (int i = off; i < off + count; i++) {
                    values[i] = f16ToFloat(floatToF16(values[i]));
                }
                break;
            case BF16:
                for (int i = off; i < off + count; i++) {
                    values[i] = bf16ToFloat(floatToBf16(values[i]));
                }
                break;
            default:
                break;
        }
    }

    /** The float32 value of an IEEE binary16 bit pattern (exact). */
    public static float f16ToFloat(short bits) {
        return F16_TO_F32[bits & 0xffff];
    }

    /** The float32 value of the BF16 element {@code index} of little-endian bytes {@code src} (exact). */
    public static float bf16At(byte[] src, int index) {
        return Float.intBitsToFloat((short) LE_SHORT.get(src, 2 * index) << 16);
    }

    /** Stores {@code value} as the BF16 element {@code index} of {@code dst}, as {@link #encode} does. */
    public static void putBf16(byte[] dst, int index, float value) {
        LE_SHORT.set(dst, 2 * index, floatToBf16(value));
    }

    /** The float32 value of a bfloat16 bit pattern (exact: bfloat16 is the top half of float32). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /**
     * float32 to IEEE binary16, round to nearest, ties to even. binary16: 1 sign, 5 exponent
     * (bias 15), 10 mantissa bits; normals cover float32 biased exponents 113..142, subnormals are
     * multiples of 2^-24, and magnitudes at or above 65520 round to infinity.
     */
    public static short floatToF16(float f) {
        int x = Float.floatToRawIntBits(f);
        int sign = (x >>> 16) & 0x8000;
        int abs = x & 0x7fffffff;
        int e = abs >>> 23;
        if (e == 0xff) {
            if (abs == 0x7f800000) {
                return (short) (sign | 0x7c00);
            }
            int m = (abs >>> 13) & 0x3ff;
            return (short) (sign | 0x7c00 | (m == 0 ? 0x200 : m));
        }
        if (e >= 143) {
            return (short) (sign | 0x7c00);
        }
        if (e >= 113) {
            int h = ((e - 112) << 10) | ((abs >>> 13) & 0x3ff);
            int rem = abs & 0x1fff;
            // A carry out of the mantissa correctly bumps the exponent (up to infinity).
            if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) {
                h++;
            }
            return (short) (sign | h);
        }
        if (e < 102) {
            // Below 2^-25: rounds to (signed) zero; exactly 2^-25 ties to even, i.e. zero too.
            return (short) sign;
        }
        // binary16 subnormal: value = m * 2^(e-150) = h * 2^-24, so h = m >> (126 - e).
        int m = (abs & 0x7fffff) | 0x800000;
        int shift = 126 - e;
        int h = m >>> shift;
        int rem = m & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rem > half || (rem == half && (h & 1) != 0)) {
            h++;
        }
        return (short) (sign | h);
    }

    /** float32 to bfloat16, round to nearest, ties to even; NaNs stay NaN. */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) {
            int h = x >>> 16;
            return (short) ((h & 0x7f) == 0 ? h | 0x40 : h);
        }
        // Adding 0x7fff plus the lowest kept bit rounds half to even; a carry into the exponent
        // is the correct result, including overflow to infinity.
        return (short) ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16);
    }

    private static int f16BitsToF32Bits(int h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return sign | 0x7f800000 | (mant << 13);
        }
        if (exp == 0) {
            if (mant == 0) {
                return sign;
            }
            // Subnormal: mant * 2^-24 is exact in float32.
            return sign | Float.floatToRawIntBits(mant * 0x1p-24f);
        }
        return sign | ((exp + 112) << 23) | (mant << 13);
    }

    private static void requireCodec(DType dt) {
        if (!dt.isCodecSupported()) {
            throw new BadInputException("dtype " + dt + " cannot be converted to float32"
                    + " (only F64, F32, F16, BF16); it can only be carried through as raw bytes");
        }
    }
}
