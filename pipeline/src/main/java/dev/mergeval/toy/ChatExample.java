package dev.mergeval.toy;

import java.util.Objects;

/**
 * One single-turn chat example of the toy datasets.
 *
 * @param kind     {@code harmful}, {@code benign}, {@code borderline}, {@code arithmetic} or {@code task}
 * @param intent   what the request asks for, shared by all its phrasings (held-out splits are
 *                 disjoint from training by intent, not by phrasing)
 * @param prompt   the user's message
 * @param response the assistant's reference answer (the refusal for harmful requests)
 */
record ChatExample(String kind, String intent, String prompt, String response) {

    public ChatExample {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(intent, "intent");
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(response, "response");
    }
}
