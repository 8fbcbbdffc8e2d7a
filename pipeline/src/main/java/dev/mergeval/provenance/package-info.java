/**
 * How every Mergeval output was made, as immutable records in the spirit of Tribuo's provenance:
 * {@link dev.mergeval.provenance.MergeProvenance}, {@link dev.mergeval.provenance.EvalProvenance},
 * {@link dev.mergeval.provenance.JudgeProvenance}, {@link dev.mergeval.provenance.SweepProvenance},
 * {@link dev.mergeval.provenance.FineTuneProvenance} and {@link dev.mergeval.provenance.ToyProvenance},
 * each embedding the same {@link dev.mergeval.provenance.Environment}. They are written and read
 * with Jackson ({@link dev.mergeval.provenance.Provenance#toJson()},
 * {@link dev.mergeval.provenance.Provenance#read(String, Class)}); what the writer wrote reads back
 * as an equal record, and a read record writes the same bytes (the golden files under
 * {@code src/test/resources/dev/mergeval/provenance}). This package depends on no other Mergeval
 * package, so every layer can record provenance.
 */
package dev.mergeval.provenance;
