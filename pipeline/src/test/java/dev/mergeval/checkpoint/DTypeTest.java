package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import org.junit.jupiter.api.Test;

class DTypeTest {

    @Test
    void namesRoundTrip() {
        for (DType t : DType.values()) {
            assertEquals(t, DType.fromSafetensors(t.safetensorsName()));
        }
        assertEquals("bfloat16", DType.BF16.torchName());
        assertEquals(2, DType.BF16.byteSize());
        assertEquals(8, DType.I64.byteSize());
        assertTrue(DType.F8_E5M2.isFloatingPoint());
        assertFalse(DType.F8_E5M2.isCodecSupported());
        assertFalse(DType.I8.isFloatingPoint());
    }

    @Test
    void torchNamesAcceptMergekitSpellings() {
        assertEquals(DType.BF16, DType.fromTorchName("bf16"));
        assertEquals(DType.BF16, DType.fromTorchName("torch.bfloat16"));
        assertEquals(DType.F16, DType.fromTorchName("half"));
        assertEquals(DType.F16, DType.fromTorchName("fp16"));
        assertEquals(DType.F32, DType.fromTorchName("float"));
        assertEquals(DType.F32, DType.fromTorchName("FP32"));
        assertEquals(DType.F64, DType.fromTorchName("float64"));
        BadInputException e = assertThrows(BadInputException.class, () -> DType.fromTorchName("int4"));
        assertTrue(e.getMessage().contains("int4"));
        assertThrows(BadInputException.class, () -> DType.fromSafetensors("F4"));
        assertThrows(BadInputException.class, () -> DType.fromSafetensors("bf16"));
    }
}
