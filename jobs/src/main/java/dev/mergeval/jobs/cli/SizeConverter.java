package dev.mergeval.jobs.cli;

import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Byte sizes as Hugging Face writes them: {@code 5GB} is 5 * 10^9 bytes, {@code 5GiB} is 5 * 2^30,
 * a bare number is bytes.
 */
final class SizeConverter implements ITypeConverter<Long> {

    @Override
    public Long convert(String value) {
        String v = value.trim().toUpperCase(Locale.ROOT);
        String[][] units = {
            {"KIB", "1024"}, {"MIB", "1048576"}, {"GIB", "1073741824"}, {"TIB", "1099511627776"},
            {"KB", "1000"}, {"MB", "1000000"}, {"GB", "1000000000"}, {"TB", "1000000000000"}, {"B", "1"},
        };
        long multiplier = 1;
        for (String[] unit : units) {
            if (v.endsWith(unit[0])) {
                multiplier = Long.parseLong(unit[1]);
                v = v.substring(0, v.length() - unit[0].length()).trim();
                break;
            }
        }
        try {
            double number = Double.parseDouble(v);
            if (number <= 0 || Double.isNaN(number) || Double.isInfinite(number)) {
                throw new TypeConversionException("size must be positive: '" + value + "'");
            }
            return Math.round(number * multiplier);
        } catch (NumberFormatException e) {
            throw new TypeConversionException("not a size (e.g. 5GB, 500MB, 2GiB): '" + value + "'");
        }
    }

    /**
     * Sizes as mergekit-yaml's {@code --out-shard-size} reads them ({@code parse_kmb}): a whole
     * number, or one followed by K, M or B (either case) for thousands, millions or billions.
     */
    static final class Kmb implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            String v = value.trim();
            long multiplier = 1;
            if (!v.isEmpty()) {
                switch (Character.toLowerCase(v.charAt(v.length() - 1))) {
                    case 'k' -> multiplier = 1_000L;
                    case 'm' -> multiplier = 1_000_000L;
                    case 'b' -> multiplier = 1_000_000_000L;
                    default -> multiplier = 1;
                }
                if (multiplier != 1) {
                    v = v.substring(0, v.length() - 1);
                }
            }
            try {
                long number = Long.parseLong(v);
                if (number <= 0) {
                    throw new TypeConversionException("size must be positive: '" + value + "'");
                }
                return Math.multiplyExact(number, multiplier);
            } catch (NumberFormatException | ArithmeticException e) {
                throw new TypeConversionException("not a size as mergekit writes it (e.g. 5B, 500M, 1000000): '"
                        + value + "'");
            }
        }
    }
}
