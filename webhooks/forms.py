from django import forms


class DefaultWebhookForm(forms.Form):
    url = forms.CharField(
        label="Default webhook URL",
        required=False,
        max_length=2000,
        help_text="Jobs you start without a webhook of their own send their events here. Empty: none.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/mlservice"}),
    )
