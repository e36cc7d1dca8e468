"""The API's models (pydantic): what each resource accepts and what it returns, one module per
resource family. Inputs forbid unknown fields, and the error names the field and lists the allowed
ones (common.Input). Schemas import no other part of the center."""
