"""The contract's graph vocabulary: entity kinds, their labels, relationship types."""

KIND_LABELS = {
    "PERSON": "Person",
    "PHONE": "Phone",
    "VEHICLE": "Vehicle",
    "CASE": "Case",
    "PARCEL": "Parcel",
    "SENSOR": "Sensor",
    "ADDRESS": "Address",
}
LABEL_KINDS = {label: kind for kind, label in KIND_LABELS.items()}

REL_TYPES = (
    "INVOLVED_IN", "USES", "OWNS", "LIVES_AT", "OCCURRED_AT", "CALLED", "SENT", "RECEIVED",
    "FROM_ADDRESS", "TO_ADDRESS", "SEEN_AT", "CO_TRAVELED",
)
# Paths traverse every type but SEEN_AT unless asked otherwise (contract: relationship paths).
DEFAULT_PATH_TYPES = tuple(t for t in REL_TYPES if t != "SEEN_AT")
