from django.urls import path
from rest_framework_simplejwt import views as jwt_views

from . import views

urlpatterns = [
    path("api/token/", jwt_views.TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("api/token/refresh/", jwt_views.TokenRefreshView.as_view(), name="token_refresh"),
    path("api/token/verify/", jwt_views.TokenVerifyView.as_view(), name="token_verify"),
    path("api/token/blacklist/", jwt_views.TokenBlacklistView.as_view(), name="token_blacklist"),
    path("api/token/sliding/", jwt_views.TokenObtainSlidingView.as_view(), name="token_obtain_sliding"),
    path("api/token/sliding/refresh/", jwt_views.TokenRefreshSlidingView.as_view(), name="token_refresh_sliding"),
    path("hello/", views.HelloView.as_view(), name="hello"),
    path("sliding/hello/", views.SlidingHelloView.as_view(), name="sliding_hello"),
]
