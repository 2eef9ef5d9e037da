from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, SlidingToken


class HelloView(APIView):
    """The seed tutorials' protected view, answering the user's id too."""

    permission_classes = (IsAuthenticated,)

    def get(self, request):
        return Response({"message": "Hello, World!", "user_id": request.user.id})

    def post(self, request):
        return self.get(request)


class AccessOrSlidingAuthentication(JWTAuthentication):
    """JWTAuthentication as configured with
    AUTH_TOKEN_CLASSES = (AccessToken, SlidingToken), for one view: the
    loop of JWTAuthentication.get_validated_token over those two classes."""

    token_classes = (AccessToken, SlidingToken)

    def get_validated_token(self, raw_token):
        messages = []
        for AuthToken in self.token_classes:
            try:
                return AuthToken(raw_token)
            except TokenError as e:
                messages.append(
                    {
                        "token_class": AuthToken.__name__,
                        "token_type": AuthToken.token_type,
                        "message": e.args[0],
                    }
                )
        raise InvalidToken({"detail": "Given token not valid for any token type", "messages": messages})


class SlidingHelloView(HelloView):
    """/sliding/hello/: the protected view accepting access and sliding tokens."""

    authentication_classes = (AccessOrSlidingAuthentication,)
