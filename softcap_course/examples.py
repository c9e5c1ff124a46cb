"""The running example: a model choosing the tense of the next verb, and its logits."""

TENSE_LABELS = ("past simple", "present simple", "future simple", "present perfect", "past continuous")

# Raw scores from a final linear layer, one per tense: "present simple" is the favourite.
TENSE_LOGITS = (1.2, 4.7, 3.1, 0.5, 2.9)

# The same example after one logit has grown large, as happens late in training without a cap:
# exp(92) is beyond float32's largest number (about 3.4e38 = exp(88.7)).
OVERFLOW_LOGITS = (1.2, 92.0, 3.1, 0.5, 2.9)
