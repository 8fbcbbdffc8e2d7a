/**
 * Task scorers: GSM8K with lm-evaluation-harness's extraction rules, multiple choice by
 * log-likelihood ({@code acc}, {@code acc_norm}), exact match and contains. Each returns, per item,
 * whether each of its metrics counts as correct.
 */
package dev.mergeval.eval.scorers;
