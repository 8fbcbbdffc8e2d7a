/** Chat templates: the Jinja {@code chat_template} of a Hugging Face tokenizer config, rendered in Java. */
package dev.mergeval.runtime.chat;
