"""After the signature: payments of compensation, the handover of the house and its demolition."""
