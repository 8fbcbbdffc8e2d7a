package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TensorCodecTest {

    @Test
    void f16RoundTripIsBitExactOverAllPatterns() {
        ByteBuffer src = ByteBuffer.allocate(65536 * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int h = 0; h < 65536; h++) {
            src.putShort((short) h);
        }
        src.flip();
        float[] f = new float[65536];
        TensorCodec.decode(DType.F16, src, f, 0, 65536);
        assertEquals(0, src.remaining(), "decode advances the position");
        ByteBuffer back = ByteBuffer.allocate(65536 * 2);
        TensorCodec.encode(DType.F16, f, 0, 65536, back);
        back.flip().order(ByteOrder.LITTLE_ENDIAN);
        for (int h = 0; h < 65536; h++) {
            assertEquals(h, back.getShort() & 0xffff, "f16 pattern " + h);
        }
    }

    @Test
    void bf16RoundTripIsBitExactOverAllPatterns() {
        ByteBuffer src = ByteBuffer.allocate(65536 * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int h = 0; h < 65536; h++) {
            src.putShort((short) h);
        }
        src.flip();
        float[] f = new float[65536];
        TensorCodec.decode(DType.BF16, src, f, 0, 65536);
        ByteBuffer back = ByteBuffer.allocate(65536 * 2);
        TensorCodec.encode(DType.BF16, f, 0, 65536, back);
        back.flip().order(ByteOrder.LITTLE_ENDIAN);
        for (int h = 0; h < 65536; h++) {
            assertEquals(h, back.getShort() & 0xffff, "bf16 pattern " + h);
        }
    }

    @Test
    void f16DecodeMatchesTheFormatDefinition() {
        for (int h = 0; h < 65536; h++) {
            int exp = (h >>> 10) & 0x1f;
            int mant = h & 0x3ff;
            double sign = (h & 0x8000) != 0 ? -1 : 1;
            float got = TensorCodec.f16ToFloat((short) h);
            if (exp == 31) {
                assertTrue(mant == 0 ? Float.isInfinite(got) : Float.isNaN(got));
                continue;
            }
            double want = exp == 0 ? sign * mant * Math.pow(2, -24)
                    : sign * (1 + mant / 1024.0) * Math.pow(2, exp - 15);
            assertEquals(want, got, 0.0, "f16 " + h);
            assertEquals(Double.doubleToRawLongBits(want) >>> 63,
                    (long) (Float.floatToRawIntBits(got) >>> 31), "sign of zero kept");
        }
    }

    /** Nearest-even against a brute-force search of the neighbouring representable values. */
    @Test
    void encodeRoundsToNearestEven() {
        SplittableRandom rnd = new SplittableRandom(42);
        float[] edge = {65504f, 65519.996f, 65520f, 65536f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f,
            0x1.000002p-25f, 0x3p-26f, 0x1p-14f, 0x1.ffcp-15f, 1.0009766f, 1.0004883f,
            1.0014648f, Float.MIN_VALUE, -0.0f, Float.MAX_VALUE, 3.3895314e38f, 3.4e38f};
        for (int i = 0; i < 200_000 + edge.length; i++) {
            float x = i < edge.length ? edge[i]
                    : Float.intBitsToFloat(rnd.nextInt());
            if (Float.isNaN(x)) {
                continue;
            }
            checkNearestEven(x, TensorCodec.floatToF16(x), true);
            checkNearestEven(x, TensorCodec.floatToBf16(x), false);
            float small = (float) (rnd.nextDouble(-1, 1) * Math.pow(2, rnd.nextInt(-30, 17)));
            checkNearestEven(small, TensorCodec.floatToF16(small), true);
            checkNearestEven(small, TensorCodec.floatToBf16(small), false);
        }
    }

    private static void checkNearestEven(float x, short enc, boolean f16) {
        int e = enc & 0xffff;
        double got = f16 ? TensorCodec.f16ToFloat(enc) : TensorCodec.bf16ToFloat(enc);
        double max = f16 ? 65504.0 : TensorCodec.bf16ToFloat((short) 0x7f7f);
        // Overflow threshold: max + half an ulp of max.
        double ulpMax = f16 ? 32.0 : Math.ulp(Float.MAX_VALUE) * 65536.0;
        if (Math.abs((double) x) >= max + ulpMax / 2) {
            assertTrue(Double.isInfinite(got) && Math.signum(got) == Math.signum(x),
                    () -> x + " must overflow to infinity, got " + got);
            return;
        }
        assertTrue(!Double.isInfinite(got) || Float.isInfinite(x), () -> x + " -> " + got);
        if (Float.isInfinite(x)) {
            return;
        }
        int mag = e & 0x7fff;
        int sign = e & 0x8000;
        double err = Math.abs(got - x);
        for (int d = -1; d <= 1; d += 2) {
            int n = mag + d;
            if (n < 0 || n >= (f16 ? 0x7c00 : 0x7f80)) {
                continue;
            }
            short nb = (short) (sign | n);
            double other = f16 ? TensorCodec.f16ToFloat(nb) : TensorCodec.bf16ToFloat(nb);
            double otherErr = Math.abs(other - x);
            assertTrue(err <= otherErr, () -> x + " encoded to " + got + " but " + other
                    + " is nearer");
            if (err == otherErr) {
                assertEquals(0, mag & 1, () -> x + " is a tie and must round to even");
            }
        }
        if (x == 0) {
            assertEquals(Float.floatToRawIntBits(x) >>> 31, (long) (sign >>> 15), "signed zero");
        }
    }

    @Test
    void f32AndF64AreExactOrCastRounded() {
        SplittableRandom rnd = new SplittableRandom(7);
        int n = 10_000;
        float[] src = new float[n];
        for (int i = 0; i < n; i++) {
            src[i] = Float.intBitsToFloat(rnd.nextInt());
        }
        for (DType dt : new DType[] {DType.F32, DType.F64}) {
            ByteBuffer buf = ByteBuffer.allocateDirect(n * dt.byteSize());
            TensorCodec.encode(dt, src, 0, n, buf);
            buf.flip();
            float[] back = new float[n + 3];
            TensorCodec.decode(dt, buf, back, 3, n);
            for (int i = 0; i < n; i++) {
                if (Float.isNaN(src[i])) {
                    // float->double quiets a signalling NaN in hardware; it stays a NaN.
                    assertTrue(Float.isNaN(back[i + 3]), dt + " element " + i);
                } else {
                    assertEquals(Float.floatToRawIntBits(src[i]),
                            Float.floatToRawIntBits(back[i + 3]), dt + " element " + i);
                }
            }
        }
        ByteBuffer d = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(0, 0.1);
        float[] one = new float[1];
        TensorCodec.decode(DType.F64, d, one, 0, 1);
        assertEquals((float) 0.1, one[0]);
    }

    @Test
    void littleEndianRegardlessOfCallerByteOrderAndChunking() {
        int n = 20_000;
        float[] src = new float[n];
        for (int i = 0; i < n; i++) {
            src[i] = Math.scalb((float) (i % 255 - 127), i % 11 - 5);
        }
        ByteBuffer big = ByteBuffer.allocate(n * 2).order(ByteOrder.BIG_ENDIAN);
        TensorCodec.encode(DType.BF16, src, 0, n, big);
        assertEquals(ByteOrder.BIG_ENDIAN, big.order(), "caller's byte order untouched");
        short first = TensorCodec.floatToBf16(src[1]);
        assertEquals((byte) first, big.get(2), "low byte first");
        assertEquals((byte) (first >> 8), big.get(3));
        big.flip();
        float[] back = new float[n];
        TensorCodec.decode(DType.BF16, big, back, 0, n);
        for (int i = 0; i < n; i++) {
            assertEquals(src[i], back[i], "element " + i + " (exactly representable in bf16)");
        }
    }

    /**
     * The array form's BF16 encode (the merge's) gives {@link TensorCodec#floatToBf16}'s bits for
     * every element: random float bit patterns (NaNs, infinities, subnormals, carries into the
     * exponent), odd counts and offsets, counts beyond the codec's chunk, bytes around the written
     * range untouched.
     */
    @Test
    void bf16ArrayEncodeIsFloatToBf16ElementByElement() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(7);
        int n = 20_001;
        float[] src = new float[n + 3];
        for (int i = 0; i < src.length; i++) {
            src[i] = Float.intBitsToFloat(i % 7 == 0 ? 0x7f800000 | random.nextInt(0x800000) : random.nextInt());
        }
        src[5] = Float.intBitsToFloat(0x7f810000);
        src[6] = Float.intBitsToFloat(0xff800001);
        src[7] = Float.intBitsToFloat(0x3f80ffff);
        for (int count : new int[] {0, 1, 2, 7, 8192, 8193, n}) {
            byte[] dst = new byte[2 * count + 6];
            java.util.Arrays.fill(dst, (byte) 0x5a);
            TensorCodec.encode(DType.BF16, src, 3, count, dst, 3);
            ByteBuffer le = ByteBuffer.wrap(dst).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < count; i++) {
                assertEquals(TensorCodec.floatToBf16(src[3 + i]), le.getShort(3 + 2 * i),
                        "element " + i + " of " + count + ": " + Integer.toHexString(Float.floatToRawIntBits(src[3 + i])));
            }
            for (int k : new int[] {0, 1, 2, 2 * count + 3, 2 * count + 4, 2 * count + 5}) {
                assertEquals((byte) 0x5a, dst[k], "byte " + k + " outside the range written, count " + count);
            }
        }
    }

    @Test
    void rawOnlyTypesAreRefused() {
        ByteBuffer b = ByteBuffer.allocate(8);
        assertThrows(BadInputException.class,
                () -> TensorCodec.decode(DType.F8_E4M3, b, new float[8], 0, 8));
        assertThrows(BadInputException.class,
                () -> TensorCodec.encode(DType.I32, new float[2], 0, 2, b));
    }
}
